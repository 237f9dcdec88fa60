"""CPU cost of the built-in bot on hostile messages: ``bench/hostile.py [--length N] [--runs R]``.

Every pattern and matcher that reads customer text must cost time linear in
its length (security probe 2026-12, finding 5: the order-number pattern spent
≈ 380 ms on one message of 2,000 spaces, holding the GIL). The test suite
checks the bot's answers to such messages but never their time, because
timing assertions fail at random on a shared machine; this script measures it.

It migrates a temporary SQLite database, loads the demo FAQ and orders, and
times, with ``time.process_time``, what a customer message costs on the bot
path: ``BuiltinBot.reply`` (handoff words, order numbers, email addresses, greetings, the FAQ
matcher) and ``cards.parse`` of the message (its payload). Each hostile
message is compared with ordinary prose of the same length; the figure is the
fastest of ``--runs`` runs, which filters out other tenants of the machine.
It prints a table and exits 1 when a hostile message costs more than
``--ratio`` times the ordinary one and more than ``--floor-ms`` (the floor
keeps a fraction of a millisecond of noise from failing the run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A customer's long message, without repeats (distinct words are what the FAQ
# matcher pays for); repeated when a longer one is asked for.
ORDINARY = (
    "Hello, I bought a Fiido D11 from your shop last month and I love it so far. My commute is about "
    "twelve kilometres each way, mostly flat, with one steep hill near the station, and the bike copes "
    "with it easily on the second assist level. A few questions, though, if you have a moment. First, "
    "could you tell me whether the rear rack fits the C11 as well, and what colours it comes in? My "
    "friend is thinking of getting one and would like a matching rack for her panniers. Second, the "
    "display sometimes shows a strange symbol after I switch it on in the morning; it disappears after "
    "a minute or two, so perhaps it is nothing, but I wanted to mention it before it becomes a problem. "
    "Third, I live in a flat on the fourth floor and carry the bike upstairs every evening. Is there a "
    "recommended way to fold it so the pedals do not scratch the paint? I have already put some tape on "
    "the frame, which helps a little. Fourth, my partner would like to order a helmet and a lock from "
    "your accessories page, but the site would not accept her postcode yesterday. We tried twice, on a "
    "phone and on a laptop, with the same result. Could somebody look into that, or can we order by "
    "email instead? Finally, a small compliment: the assembly instructions were clear, the box arrived "
    "undamaged, and the courier was friendly and on time. I will happily recommend you to colleagues "
    "who are looking for something practical for city riding. Many thanks in advance for your help, "
    "and sorry for the long message; I thought it best to put everything together in one place rather "
    "than writing five separate times. Kind regards from a happy customer in Leeds, and have a lovely "
    "weekend when it comes. P.S. If there is a newsletter with riding tips, please sign me up for it. "
)


def fill(unit: str, length: int, *, head: str = "", tail: str = "") -> str:
    """``head``, then ``unit`` repeated, then ``tail``: exactly ``length`` characters."""
    body = length - len(head) - len(tail)
    return head + (unit * (body // len(unit) + 1))[:body] + tail


def words(stem: str, length: int) -> str:
    """Distinct words ``stem`` + three letters (``warrantaaa warrantaab …``), ``length`` characters."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    distinct = (stem + "".join(suffix) for suffix in itertools.product(letters, repeat=3))
    return fill(" ".join(itertools.islice(distinct, length)), length)


def numbers(length: int) -> str:
    """Distinct well-formed order numbers, ``UK10000 UK10001 …``."""
    return fill(" ".join(f"UK{index}" for index in range(10000, 10000 + length)), length)


def question_reach(length: int) -> int:
    """The longest message that can still read like an FAQ question (``builtin._likeness``), at most ``length``."""
    from chatbot.bots.builtin import FAQ_QUESTION_SIMILARITY
    from chatbot.models import FaqEntry

    longest = max(len(question) for question in FaqEntry.objects.values_list("question", flat=True))
    return min(length, int(longest * (2 / FAQ_QUESTION_SIMILARITY - 1)))


# Each builds a message of at most the given length (MESSAGE_MAX_CHARS by default).
HOSTILE: dict[str, Callable[[int], str]] = {
    "keyword, spaces, x (probe)": lambda n: fill(" ", n, head="warranty", tail="x"),
    "keyword, newlines, x (probe)": lambda n: fill("\n", n, head="warranty", tail="x"),
    "keyword, tabs, x": lambda n: fill("\t", n, head="warranty", tail="x"),
    "mixed Unicode whitespace": lambda n: fill(" \t\n\r\x0b\x0c\xa0\u2003\u3000", n, head="a", tail="b"),
    "#, spaces, almost a number": lambda n: fill(" ", n, head="#", tail="UK12"),
    "# repeated": lambda n: fill("#", n),
    "'# ' repeated": lambda n: fill("# ", n, tail="x"),
    "prefixes without digits": lambda n: fill("UK ", n, tail="x"),
    "glued prefixes": lambda n: fill("UKusEUde", n),
    "#, prefix, dash repeated": lambda n: fill("#UK-", n),
    "prefix, then only digits": lambda n: fill("7", n, head="UK"),
    "digits": lambda n: fill("1", n),
    "numbers too short": lambda n: fill("uk12 ", n),
    "distinct order numbers": numbers,
    "keyword repeated": lambda n: fill("warranty ", n),
    "typo repeated": lambda n: fill("warrenty ", n),
    "distinct near-keywords": lambda n: words("warrant", n),
    "one long word": lambda n: fill("a", n),
    "an FAQ question repeated": lambda n: fill("How long does delivery take? ", n),
    "handoff lookalikes": lambda n: fill("personal agentive humanoid ", n),
    "greeting, spaces, x": lambda n: fill(" ", n, head="hi", tail="x"),
    "punctuation, then a word": lambda n: fill("!", n, tail="hello x"),
    "thanks repeated": lambda n: fill("thank you so much ", n),
    "order-question lookalikes": lambda n: fill("my my order track ", n),
    "Chinese lookalikes": lambda n: fill("人客订单物", n),
    "card opening tags": lambda n: fill("[PRODUCT]", n),
    # Email addresses are looked for around each "@" (chatbot/order_access.py::emails_in).
    "number, then at-signs": lambda n: fill("@", n, head="UK22080 "),
    "number, then a-at repeated": lambda n: fill("a@", n, head="UK22080 "),
    "number, long local part": lambda n: fill("a", n, head="UK22080 ", tail="@example.com"),
    "number, many addresses": lambda n: fill("x@example.com ", n, head="UK22080 "),
    "opening tag and separators": lambda n: fill("|", n, head="[PRODUCT]a"),
    # difflib compares a message with each question it could read like; spaces
    # are the questions' most repeated character, its worst case.
    "spaces, as long as a question": lambda n: fill(" ", question_reach(n), head="warranty", tail="x"),
}


def setup_django(database: Path) -> None:
    """Django on a fresh SQLite file with the demo FAQ and orders; no Redis."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="fiido.settings",
        DATABASE_URL=f"sqlite:///{database}",
        DEBUG="false",
        SECRET_KEY="bench-hostile-not-secret",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from chatbot.demo import seed_orders_and_faq

    call_command("migrate", verbosity=0, interactive=False)
    seed_orders_and_faq()


def cost_ms(text: str, runs: int) -> float:
    """CPU milliseconds of the bot path for one message: the fastest of ``runs``."""
    from chatbot import cards
    from chatbot.bots.builtin import BuiltinBot
    from chatbot.models import Message

    bot = BuiltinBot()
    history = [Message(role=Message.Role.USER, content=text)]
    best = float("inf")
    for _ in range(runs + 1):  # the first run warms caches and is not counted
        start = time.process_time()
        bot.reply(None, history)
        cards.parse(text)
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=0, help="characters per message (default MESSAGE_MAX_CHARS)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ratio", type=float, default=5.0, help="budget: this many times the ordinary message")
    parser.add_argument("--floor-ms", type=float, default=3.0, help="costs under this never fail")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fiido-hostile-") as work:
        setup_django(Path(work) / "hostile.sqlite3")
        from django.conf import settings

        length = args.length or settings.MESSAGE_MAX_CHARS
        ordinary: dict[int, float] = {}  # CPU-ms of ordinary prose, by length

        def ordinary_ms(size: int) -> float:
            if size not in ordinary:
                ordinary[size] = cost_ms(fill(ORDINARY, size).strip(), args.runs)
            return ordinary[size]

        print(f"{length} characters per message; ordinary prose {ordinary_ms(length):.2f} CPU-ms")
        print(f"budget: the larger of {args.ratio:g}x ordinary prose of the same length and {args.floor_ms:g} ms")
        print(f"(CPU-ms: the fastest of {args.runs} runs)\n")
        print(f"| {'hostile message':<30} | {'chars':>5} | {'CPU-ms':>6} | {'ordinary':>8} | {'ratio':>5} | verdict |")
        print(f"| {'-' * 30} | {'-' * 4}: | {'-' * 5}: | {'-' * 7}: | {'-' * 4}: | ------- |")
        over = []
        for name, build in HOSTILE.items():
            text = build(length).strip()  # what the bot sees: the API strips the message
            assert len(text) <= settings.MESSAGE_MAX_CHARS, name
            spent, usual = cost_ms(text, args.runs), ordinary_ms(len(text))
            within = spent <= max(args.ratio * usual, args.floor_ms)
            if not within:
                over.append(name)
            verdict = "ok" if within else "OVER"
            figures = f"{len(text):>5} | {spent:>6.2f} | {usual:>8.2f} | {spent / usual:>5.1f}"
            print(f"| {name:<30} | {figures} | {verdict:<7} |")
    if over:
        print(f"\n{len(over)} over budget: {', '.join(over)}")
        return 1
    print("\nevery hostile message within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
