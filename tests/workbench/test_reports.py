"""Reports (issue 17): every figure from conversations built with a controlled
clock, exactly, by day and by agent, as JSON and as CSV; who may read them;
which requests are refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from chatbot import conversations
from chatbot.models import ChatSession, ReportSample
from workbench import reports

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


class Clock:
    """The test's clock: ``at(s)`` sets it to START + s seconds (day ``day``)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: int, *, day: int = 0) -> None:
        self.now = START + timedelta(days=day, seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def lead(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_user("lead", is_staff=True))
    return client


def say(clock: Clock, seconds: int, session: ChatSession, agent) -> None:
    clock.at(seconds)
    conversations.post_agent_message(session, agent=agent, content="Hello, how can I help?")


@pytest.fixture
def week(clock, agent_user, other_agent) -> dict[str, ChatSession]:
    """Six conversations: five on 2 March (times in seconds after 10:00 UTC), one on 3 March.

    c1: escalates at 10, Alice takes over at 70 (waited 60), writes at 100
        (first response 30), closes at 400 (resolution 390); rated 5.
    c2: the bot alone; the customer ends it at 50; rated 3.
    c3: escalates at 20; assigned to Bob at 140 (waited 120); Bob never writes
        (no reply) and transfers to Alice at 200 (not a wait); Alice writes at
        260 (first response 60) and returns it to the queue at 300; Bob takes
        it over at 330 (waited again: 30), writes at 340 (10), closes at 1000
        (resolution 980).
    c4: escalates at 5, cancels at 15, escalates again at 25 and ends it while
        waiting at 85 (no wait measured; resolution from the first escalation: 80).
    c5: Alice joins from the bot at 50 (no escalation: not a wait), never
        writes (no reply), releases at 90.
    c6: 3 March, with the bot, still open.
    """
    alice, bob = agent_user, other_agent
    clock.at(0)
    c1, c2, c3, c4, c5 = (conversations.start() for _ in range(5))
    clock.at(5)
    conversations.escalate(c4, reason="help")
    clock.at(10)
    conversations.escalate(c1, reason="help")
    clock.at(15)
    conversations.cancel_escalation(c4)
    clock.at(20)
    conversations.escalate(c3, reason="help")
    clock.at(25)
    conversations.escalate(c4, reason="again")
    clock.at(30)
    conversations.post_customer_message(c2, content="Where is my order?")  # the bot answers
    clock.at(50)
    conversations.close(c2)
    conversations.take_over(c5, agent=alice)
    clock.at(70)
    conversations.take_over(c1, agent=alice)
    clock.at(80)
    conversations.post_customer_message(c1, content="My battery is flat")  # a customer's words are no response
    clock.at(85)
    conversations.close(c4)
    clock.at(90)
    conversations.release(c5, by=alice)
    say(clock, 100, c1, alice)
    clock.at(140)
    conversations.assign(c3, agent=bob, max_live=5)
    clock.at(200)
    conversations.transfer(c3, by=bob, to=alice)
    say(clock, 260, c3, alice)
    clock.at(300)
    conversations.return_to_queue(c3, by=alice)
    clock.at(330)
    conversations.take_over(c3, agent=bob)
    say(clock, 340, c3, bob)
    say(clock, 350, c3, bob)  # only the first one counts
    clock.at(400)
    conversations.close(c1, by=alice)
    clock.at(1000)
    conversations.close(c3, by=bob)
    clock.at(1100)
    conversations.rate(c1, score=5, comment="Quick and kind")
    conversations.rate(c2, score=3)
    clock.at(0, day=1)
    c6 = conversations.start()
    clock.at(3600, day=3)  # "now": after the range
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6}


def report(client: Client, **params) -> dict:
    response = client.get("/workbench/api/reports", {"from": "2026-03-02", "to": "2026-03-04", **params})
    assert response.status_code == 200, response.content
    return response.json()


EMPTY_DAY = {
    "conversations": 0,
    "escalated": 0,
    "bot_only": 0,
    "handled": 0,
    "wait_p50_s": None,
    "wait_p90_s": None,
    "first_response_p50_s": None,
    "first_response_p90_s": None,
    "no_reply": 0,
    "resolution_p50_s": None,
    "rating_avg": None,
    "rating_count": 0,
}
MARCH_2 = {
    "conversations": 5,
    "escalated": 3,  # c1, c3, c4
    "bot_only": 1,  # c2 (c5 had an agent)
    "handled": 3,  # c1, c3, c5
    "wait_p50_s": 60.0,  # waits 30, 60, 120 (c4's were never answered)
    "wait_p90_s": 120.0,
    "first_response_p50_s": 30.0,  # 10, 30, 60
    "first_response_p90_s": 60.0,
    "no_reply": 2,  # Bob in c3 before the transfer, Alice in c5
    "resolution_p50_s": 390.0,  # 80, 390, 980
    "rating_avg": 4.0,  # 5 and 3
    "rating_count": 2,
}
TOTALS = {**MARCH_2, "conversations": 6, "bot_only": 2}  # c6, still with the bot


def test_every_figure_by_day(lead, week):
    """Waits, first responses, no replies, resolution and ratings, each exactly."""
    data = report(lead)
    assert data == {
        "rows": [
            {"key": "2026-03-02", **MARCH_2},
            {"key": "2026-03-03", **EMPTY_DAY, "conversations": 1, "bot_only": 1},
            {"key": "2026-03-04", **EMPTY_DAY},
        ],
        "totals": TOTALS,
    }


def test_every_figure_by_agent(lead, week):
    """A wait belongs to the agent who answered it, a first response (or a no
    reply) to the agent given the conversation, resolution and rating to the
    last agent who held it; the totals count each conversation once."""
    data = report(lead, group="agent")
    assert data["rows"] == [
        {
            "key": "alice",
            "conversations": 3,  # c1, c3 (by transfer), c5
            "escalated": 2,
            "bot_only": 0,
            "handled": 3,
            "wait_p50_s": 60.0,  # c1 only: the transfer is no wait
            "wait_p90_s": 60.0,
            "first_response_p50_s": 30.0,  # 30 (c1), 60 (c3)
            "first_response_p90_s": 60.0,
            "no_reply": 1,  # c5
            "resolution_p50_s": 390.0,
            "rating_avg": 5.0,
            "rating_count": 1,
        },
        {
            "key": "bob",
            "conversations": 1,
            "escalated": 1,
            "bot_only": 0,
            "handled": 1,
            "wait_p50_s": 30.0,  # 120 (assigned), 30 (after the return to the queue)
            "wait_p90_s": 120.0,
            "first_response_p50_s": 10.0,
            "first_response_p90_s": 10.0,
            "no_reply": 1,
            "resolution_p50_s": 980.0,
            "rating_avg": None,
            "rating_count": 0,
        },
    ]
    assert data["totals"] == TOTALS


def test_a_close_stores_the_conversations_figures(week, agent_user, other_agent):
    """Closing settles a conversation's figures from its log, once; open ones have none."""
    stored = ReportSample.objects.order_by("session_id", "metric", "value")
    c1 = [(row.metric, row.agent_id, row.value) for row in stored.filter(session=week["c1"])]
    assert c1 == [
        (ReportSample.Metric.CONVERSATION, None, 3),  # escalated (1) and held by an agent (2)
        (ReportSample.Metric.HELD, agent_user.pk, 1),  # held by Alice, escalated
        (ReportSample.Metric.WAIT, agent_user.pk, 60_000_000),
        (ReportSample.Metric.FIRST_RESPONSE, agent_user.pk, 30_000_000),
        (ReportSample.Metric.RESOLUTION, agent_user.pk, 390_000_000),
    ]
    c3_firsts = stored.filter(session=week["c3"], metric=ReportSample.Metric.FIRST_RESPONSE).order_by("pk")
    assert [(row.agent_id, row.value) for row in c3_firsts] == [
        (other_agent.pk, None),  # assigned, transferred before writing: no reply
        (agent_user.pk, 60_000_000),
        (other_agent.pk, 10_000_000),
    ]
    assert {row.session_id for row in stored.filter(metric=ReportSample.Metric.CONVERSATION)} == {
        week[name].pk for name in ("c1", "c2", "c3", "c4")
    }
    assert all(row.started_at == week["c1"].created_at for row in stored.filter(session=week["c1"]))


def test_stored_figures_and_the_log_give_the_same_report(lead, week):
    """A report reads stored figures for closed conversations and derives the
    others from the log: without the stored rows it is the same, and
    settle_report_figures stores them again, once."""
    by_day, by_agent = report(lead), report(lead, group="agent")
    ReportSample.objects.all().delete()
    assert (report(lead), report(lead, group="agent")) == (by_day, by_agent)
    out = io.StringIO()
    call_command("settle_report_figures", "--batch", "1", stdout=out)
    assert out.getvalue().strip() == "4 conversations settled."  # c1 to c4; c5 and c6 are open
    assert ReportSample.objects.filter(metric=ReportSample.Metric.CONVERSATION).count() == 4
    assert (report(lead), report(lead, group="agent")) == (by_day, by_agent)
    out = io.StringIO()
    call_command("settle_report_figures", stdout=out)
    assert out.getvalue().strip() == "0 conversations settled."


def test_the_rating_distribution_counts_every_rating_of_the_range(week):
    """The chart's distribution: c1 rated 5 and c2 (the bot alone, no agent) 3, by day and by agent."""
    for group in reports.GROUPS:
        period = reports.Period(START.date(), START.date() + timedelta(days=2), ZoneInfo("UTC"), group)
        assert reports.report(period).distribution == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}


def test_days_are_counted_in_the_viewers_time_zone(lead, clock):
    """23:30 UTC on 2 March is 3 March in Tokyo."""
    clock.now = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    conversations.start()
    by_utc = report(lead, to="2026-03-03")["rows"]
    by_tokyo = report(lead, to="2026-03-03", tz="Asia/Tokyo")["rows"]
    assert [row["conversations"] for row in by_utc] == [1, 0]
    assert [row["conversations"] for row in by_tokyo] == [0, 1]


def test_ratings_count_by_the_day_the_conversation_closed(lead, clock):
    session = conversations.start()
    clock.at(0, day=1)
    conversations.close(session)
    conversations.rate(session, score=2)
    rows = report(lead)["rows"]
    assert [(row["conversations"], row["rating_count"], row["rating_avg"]) for row in rows] == [
        (1, 0, None),
        (0, 1, 2.0),
        (0, 0, None),
    ]


def test_percentiles_are_nearest_rank(lead, clock, agent_user):
    """Ten waits of 1..10 minutes: p50 is the 5th, p90 the 9th (percentile_disc)."""
    for minutes in range(1, 11):
        clock.at(0)
        session = conversations.start()
        conversations.escalate(session, reason="help")
        clock.at(minutes * 60)
        conversations.take_over(session, agent=agent_user)
    totals = report(lead)["totals"]
    assert (totals["wait_p50_s"], totals["wait_p90_s"]) == (300.0, 540.0)
    assert totals["first_response_p50_s"] is None and totals["no_reply"] == 10


def test_the_csv_carries_the_same_numbers_as_the_json(lead, week):
    for group in ("day", "agent"):
        data = report(lead, group=group)
        response = lead.get(
            "/workbench/api/reports", {"from": "2026-03-02", "to": "2026-03-04", "group": group, "format": "csv"}
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        table = list(csv.DictReader(io.StringIO(response.content.decode())))
        expected = [*data["rows"], {"key": "total", **data["totals"]}]
        assert table == [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]


def test_a_username_never_runs_as_a_spreadsheet_formula(lead, clock, django_user_model):
    agent = django_user_model.objects.create_user("=HYPERLINK(evil)", is_staff=True)
    conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent)
    response = lead.get(
        "/workbench/api/reports", {"from": "2026-03-02", "to": "2026-03-02", "group": "agent", "format": "csv"}
    )
    assert "\n'=HYPERLINK(evil),1," in response.content.decode()
    assert (
        lead.get("/workbench/api/reports", {"from": "2026-03-02", "to": "2026-03-02", "group": "agent"}).json()["rows"][
            0
        ]["key"]
        == "=HYPERLINK(evil)"
    )


def test_the_default_range_is_the_last_seven_days(lead, clock):
    clock.at(0, day=10)
    rows = lead.get("/workbench/api/reports").json()["rows"]
    assert [row["key"] for row in rows] == [f"2026-03-{day:02d}" for day in range(6, 13)]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30", "to": "2026-03-02"},
        {"from": "yesterday", "to": "2026-03-02"},
        {"from": "2026-03-05", "to": "2026-03-02"},  # reversed
        {"from": "2025-03-01", "to": "2026-03-02"},  # 367 days
        {"from": "2026-03-01", "to": "2026-03-02", "group": "week"},
        {"from": "2026-03-01", "to": "2026-03-02", "format": "xml"},
        {"from": "2026-03-01", "to": "2026-03-02", "tz": "Mars/Olympus"},
        {"to": "0001-01-03"},  # a week back would leave the calendar
        {"from": "9999-12-31", "to": "9999-12-31"},  # so would the midnight after
    ],
)
def test_bad_requests_are_400(lead, params):
    response = lead.get("/workbench/api/reports", params)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_a_year_with_its_leap_day_is_allowed(lead):
    assert lead.get("/workbench/api/reports", {"from": "2027-03-01", "to": "2028-02-29"}).status_code == 200


def test_only_staff_and_holders_of_view_reports_see_reports(agent_user, other_agent):
    anonymous = Client()
    assert anonymous.get("/workbench/api/reports").status_code == 401
    assert anonymous.get("/workbench/reports").status_code == 302
    agent = Client()
    agent.force_login(agent_user)
    assert agent.get("/workbench/api/reports").status_code == 403
    assert agent.get("/workbench/api/reports").json() == {
        "error": "Reports are for staff and holders of the view_reports permission."
    }
    assert agent.get("/workbench/reports").status_code == 403
    other_agent.user_permissions.add(Permission.objects.get(codename="view_reports"))
    holder = Client()
    holder.force_login(other_agent)
    assert holder.get("/workbench/api/reports").status_code == 200
    assert holder.get("/workbench/reports").status_code == 200


def test_the_page_shows_the_charts_the_table_and_the_now_strip(lead, week):
    response = lead.get("/workbench/reports", {"from": "2026-03-02", "to": "2026-03-04", "tz": "UTC"})
    assert response.status_code == 200
    page = response.content.decode()
    for chart in ("volume", "times", "ratings"):
        assert f'data-chart="{chart}"' in page
    assert page.count("<rect ") >= 5  # the stacked bars and the five rating bars
    assert 'id="now-waiting">0<' in page
    assert "<script>" not in page  # the CSP allows no inline script


def test_the_page_says_what_was_wrong_with_its_dates(lead):
    response = lead.get("/workbench/reports", {"from": "2026-03-05", "to": "2026-03-02"})
    assert response.status_code == 400
    assert "from must not be after to." in response.content.decode()
