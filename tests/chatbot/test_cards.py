"""The product-card parser (DESIGN §7): property tests with Hypothesis, a table of
every example in the spec, and the bubble and card partials that render the parts."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatbot import cards
from chatbot.cards import parse, safe_url

OPEN, CLOSE = cards.OPEN_TAG, cards.CLOSE_TAG
DESIGN_EXAMPLE = (
    "[PRODUCT]https://example.com/d11.jpg|Fiido D11 Folding E-bike|1|£999.00|In Transit|DPD|15501234567890|"
    "https://track.dpd.co.uk/parcels/15501234567890[/PRODUCT]"
)


def card(**fields: str) -> dict:
    base = dict.fromkeys(
        ["image", "title", "quantity", "price", "status", "carrier", "tracking_number", "tracking_url"], ""
    )
    return {"type": "card", **base, **fields}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------
# Text rich in the pieces that matter: tags, separators, schemes, new lines.
PIECES = [OPEN, CLOSE, "|", "\n", " ", "[", "]", "PRODUCT", "http://", "https://", "javascript:", "data:", "a.b/c", "£"]
tricky_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map("".join)
any_text = st.one_of(st.text(), tricky_text)
URL_PIECES = ["http://", "https://", "HTTPS://", "javascript:", "JaVaScRiPt:", "data:", "//", "ftp://", "vbscript:"]
URL_PIECES += [" ", "\t", "\n", '"', "'", "<", ">", "`", "\\", "|", "a", "x.com", "/p?q=1", "%0a", "\x00", "é"]
URL_LIKE = st.one_of(st.text(max_size=30), st.lists(st.sampled_from(URL_PIECES), max_size=8).map("".join))


def no_tags(value: str) -> bool:
    return OPEN not in value and CLOSE not in value


# A field as the parser sees it after trimming: no separator, no tag, no outer whitespace.
field = st.text(max_size=12).filter(lambda s: "|" not in s and no_tags(s) and s == s.strip())
url_field = URL_LIKE.filter(lambda s: no_tags(s) and s == s.strip())
# Plain text between blocks may hold anything except a closing tag (which could pair up with a stray opener).
plain = any_text.filter(lambda s: CLOSE not in s)


@st.composite
def blocks(draw) -> tuple[str, dict]:
    """A well-formed block, padded with whitespace and new lines, and the card it must give."""
    image, url = draw(url_field.filter(lambda s: "|" not in s)), draw(url_field)  # only the last field may hold "|"
    title = draw(field.filter(bool))
    quantity, price, status, carrier, number = (draw(field) for _ in range(5))
    pad = st.sampled_from(["", " ", "\n", "  \n "])
    values = [image, title, quantity, price, status, carrier, number, url]
    body = "|".join(f"{draw(pad)}{value}{draw(pad)}" for value in values)
    expected = card(
        image=safe_url(image),
        title=title,
        quantity=quantity,
        price=price,
        status=status,
        carrier=carrier,
        tracking_number=number,
        tracking_url=safe_url(url),
    )
    return f"{OPEN}{body}{CLOSE}", expected


def assert_safe(url: str) -> None:
    assert url == "" or re.fullmatch(r"https?://[^\s\"'<>\\`]+", url, re.IGNORECASE), url


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------
@settings(deadline=None)  # the machine is shared; a slow example is not a failure
@given(any_text)
@example(OPEN)
@example(CLOSE + OPEN)
@example(OPEN + "|" * 7 + CLOSE)
@example(OPEN + OPEN + "a|b|c|d|e|f|g|h" + CLOSE + CLOSE)
def test_arbitrary_text_never_raises_and_parts_are_well_shaped(value):
    parts = parse(value)
    previous = None
    for part in parts:
        assert part["type"] in {"text", "card"}
        if part["type"] == "text":
            assert part["text"], "empty text parts are dropped"
            assert previous != "text", "adjacent text parts are merged"
        else:
            assert set(part) == {"type", "image", "title", "quantity", "price", "status", "carrier"} | {
                "tracking_number",
                "tracking_url",
            }
            assert part["title"]
            assert_safe(part["image"])
            assert_safe(part["tracking_url"])
        previous = part["type"]


@settings(deadline=None)
@given(any_text)
def test_text_without_a_closing_tag_is_one_text_part_unchanged(value):
    value = value.replace(CLOSE, "")
    assert parse(value) == ([text(value)] if value else [])


@settings(deadline=None)
@given(st.lists(st.tuples(plain, blocks()), max_size=5), plain)
def test_all_text_around_well_formed_blocks_survives_and_every_block_is_a_card(pairs, tail):
    message = "".join(before + block for before, (block, _) in pairs) + tail
    parts = parse(message)
    # The text parts, joined, are the input with its well-formed blocks removed.
    assert "".join(p["text"] for p in parts if p["type"] == "text") == "".join(b for b, _ in pairs) + tail
    assert [p for p in parts if p["type"] == "card"] == [expected for _, (_, expected) in pairs]


@settings(deadline=None)
@given(st.tuples(url_field.filter(lambda s: "|" not in s), url_field))
@example(("javascript:alert(1)", "JAVASCRIPT:alert(document.cookie)"))
@example(("data:text/html,<script>alert(1)</script>", "https://ok.example/x|javascript:alert(1)"))
@example(('https://x.example/"onmouseover=alert(1)', "https://x.example/a b"))
@example(("//evil.example/x.png", "vbscript:msgbox"))
def test_no_non_http_url_ever_comes_out(urls):
    image, url = urls
    (part,) = parse(f"{OPEN}{image}|Bike|1|£1.00|Shipped|DPD|123|{url}{CLOSE}")
    assert part["type"] == "card"
    assert_safe(part["image"])
    assert_safe(part["tracking_url"])


# ---------------------------------------------------------------------------
# Every example in DESIGN §7
# ---------------------------------------------------------------------------
EXAMPLES = {
    "design-example": (
        DESIGN_EXAMPLE,
        [
            card(
                image="https://example.com/d11.jpg",
                title="Fiido D11 Folding E-bike",
                quantity="1",
                price="£999.00",
                status="In Transit",
                carrier="DPD",
                tracking_number="15501234567890",
                tracking_url="https://track.dpd.co.uk/parcels/15501234567890",
            )
        ],
    ),
    "multi-line block, fields trimmed": (
        "Your order:\n[PRODUCT]\n  https://example.com/c11.jpg |\n Fiido C11 |\n 2 | €1,199.00 | Shipped |\n"
        " DHL | 0034 | https://www.dhl.com/track?id=0034 \n[/PRODUCT]\nThanks!",
        [
            text("Your order:\n"),
            card(
                image="https://example.com/c11.jpg",
                title="Fiido C11",
                quantity="2",
                price="€1,199.00",
                status="Shipped",
                carrier="DHL",
                tracking_number="0034",
                tracking_url="https://www.dhl.com/track?id=0034",
            ),
            text("\nThanks!"),
        ],
    ),
    "URL containing |": (
        "[PRODUCT]|Fiido Titan|1|zł4,599.00|Delivery Failed|InPost|62|https://t.example/track?a=1|b=2|c[/PRODUCT]",
        [
            card(
                title="Fiido Titan",
                quantity="1",
                price="zł4,599.00",
                status="Delivery Failed",
                carrier="InPost",
                tracking_number="62",
                tracking_url="https://t.example/track?a=1|b=2|c",
            )
        ],
    ),
    "refund: empty carrier, number and URL": (
        "[PRODUCT]https://example.com/x.jpg|Fiido X|1|$1,499.00|Returned & Refunded|||[/PRODUCT]",
        [
            card(
                image="https://example.com/x.jpg",
                title="Fiido X",
                quantity="1",
                price="$1,499.00",
                status="Returned & Refunded",
            )
        ],
    ),
    "service item with empty image": (
        "[PRODUCT]|Worry-free Purchase|1|£49.00|Active|||[/PRODUCT]",
        [card(title="Worry-free Purchase", quantity="1", price="£49.00", status="Active")],
    ),
    "several blocks with text between": (
        "Two items:\n"
        + DESIGN_EXAMPLE
        + "\nand\n[PRODUCT]|Rack|1|£49.00|Shipped|Royal Mail|RM1|https://rm.example/RM1[/PRODUCT]",
        [
            text("Two items:\n"),
            parse(DESIGN_EXAMPLE)[0],
            text("\nand\n"),
            card(
                title="Rack",
                quantity="1",
                price="£49.00",
                status="Shipped",
                carrier="Royal Mail",
                tracking_number="RM1",
                tracking_url="https://rm.example/RM1",
            ),
        ],
    ),
    "javascript: URLs become empty": (
        "[PRODUCT]javascript:alert(1)|Bike|1|£1.00|Shipped|DPD|1|javascript:alert(document.cookie)[/PRODUCT]",
        [card(title="Bike", quantity="1", price="£1.00", status="Shipped", carrier="DPD", tracking_number="1")],
    ),
    "other schemes and broken URLs become empty": (
        "[PRODUCT]data:image/png;base64,AAAA|Bike|1|£1.00|Shipped|DPD|1|https://a.example/x y[/PRODUCT]",
        [card(title="Bike", quantity="1", price="£1.00", status="Shipped", carrier="DPD", tracking_number="1")],
    ),
    "upper-case scheme survives": (
        "[PRODUCT]HTTPS://EXAMPLE.COM/A.JPG|Bike|1|£1.00|Shipped|||[/PRODUCT]",
        [card(image="HTTPS://EXAMPLE.COM/A.JPG", title="Bike", quantity="1", price="£1.00", status="Shipped")],
    ),
}

MALFORMED = {
    "too few fields": "[PRODUCT]https://example.com/a.jpg|Bike|1|£1.00|Shipped[/PRODUCT]",
    "unclosed": "Look: [PRODUCT]https://example.com/a.jpg|Bike|1|£1.00|Shipped|DPD|1|https://t.example/1",
    "closing tag only": "Bike|1|£1.00|Shipped|DPD|1|https://t.example/1[/PRODUCT]",
    "empty title": "[PRODUCT]https://example.com/a.jpg||1|£1.00|Shipped|DPD|1|https://t.example/1[/PRODUCT]",
    "empty block": "[PRODUCT][/PRODUCT]",
    "lower-case tags": "[product]|Bike|1|£1.00|Shipped|||[/product]",
    "script in text": "<script>alert(1)</script>[PRODUCT]a|b[/PRODUCT]",
}


@pytest.mark.parametrize(("message", "expected"), EXAMPLES.values(), ids=EXAMPLES.keys())
def test_design_examples(message, expected):
    assert parse(message) == expected


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_block_stays_text_character_for_character(message):
    assert parse(message) == [text(message)]


def test_an_unclosed_block_before_a_good_one_stays_text():
    message = "[PRODUCT]broken " + DESIGN_EXAMPLE + " end"
    assert parse(message) == [text("[PRODUCT]broken "), parse(DESIGN_EXAMPLE)[0], text(" end")]


def test_a_malformed_block_between_good_ones_stays_text():
    bad = "[PRODUCT]a|b|c[/PRODUCT]"
    parts = parse(DESIGN_EXAMPLE + bad + DESIGN_EXAMPLE)
    assert [p["type"] for p in parts] == ["card", "text", "card"]
    assert parts[1] == text(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/a.jpg", "https://example.com/a.jpg"),
        ("  http://example.com/a  ", "http://example.com/a"),
        ("javascript:alert(1)", ""),
        ("https://", ""),
        ("//example.com/a.jpg", ""),
        ("/static/a.jpg", ""),
        ('https://example.com/"><script>', ""),
        ("", ""),
    ],
)
def test_safe_url(value, expected):
    assert safe_url(value) == expected


def test_plain_text_shows_cards_by_title():
    assert cards.plain_text("Here:\n" + DESIGN_EXAMPLE) == "Here:\n [Fiido D11 Folding E-bike]"


# ---------------------------------------------------------------------------
# The partials
# ---------------------------------------------------------------------------
def bubble(content: str, role: str = "bot") -> str:
    message = {
        "id": 7,
        "seq": 3,
        "role": role,
        "content": content,
        "client_id": "c",
        "created_at": "2026-01-01T10:00:00Z",
        "time": "10:00",
        "name": "Assistant",
        "parts": parse(content),
    }
    return render_to_string("includes/bubble.html", {"message": message})


def test_a_card_renders_badge_by_status_and_a_safe_track_link():
    html = bubble("On its way:\n" + DESIGN_EXAMPLE)
    assert 'class="badge badge--moving badge--in-transit"' in html
    assert 'data-status="in-transit"' in html
    assert (
        '<a class="card__track" href="https://track.dpd.co.uk/parcels/15501234567890" target="_blank" '
        'rel="noopener noreferrer">Track</a>'
    ) in html
    assert 'src="https://example.com/d11.jpg"' in html
    assert "Fiido D11 Folding E-bike" in html and "£999.00" in html and "15501234567890" in html


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        ("In Transit", "moving"),
        ("Out for Delivery", "moving"),
        ("Shipped", "moving"),
        ("Received", "done"),
        ("Active", "done"),
        ("Delivery Failed", "problem"),
        ("Cancelled", "problem"),
        ("Expired", "problem"),
        ("Refunded", "refund"),
        ("Returned & Refunded", "refund"),
        ("Pending", "waiting"),
        ("Something new", "other"),
    ],
)
def test_status_badges_have_a_tone(status, tone):
    html = bubble(f"[PRODUCT]|Bike|1|£1.00|{status}|||[/PRODUCT]")
    assert f'class="badge badge--{tone} ' in html
    assert f'class="card card--{tone}"' in html


def test_a_refund_card_has_no_logistics_line():
    html = bubble("[PRODUCT]|Fiido X|1|$1,499.00|Refunded|||[/PRODUCT]")
    assert "card__logistics" not in html and "Track" not in html and "<img" not in html


def test_user_text_and_card_fields_are_escaped():
    html = bubble(
        '<script>alert(1)</script>[PRODUCT]https://x.example/a.jpg"onerror="alert(1)|<b>Bike</b>|1|£1|'
        "<i>Shipped</i>|DPD<script>|1|https://t.example/1[/PRODUCT]",
        role="user",
    )
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Bike&lt;/b&gt;" in html
    assert "onerror" not in html  # the image URL was not http(s)-clean, so it was dropped
