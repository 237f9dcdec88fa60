"""Last-Event-ID: one strict parser for the header and the query parameter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.selectors import parse_last_event_id


@given(st.text())
def test_any_text_parses_to_an_id_or_none_and_never_raises(raw):
    parsed = parse_last_event_id(raw)
    stripped = raw.strip(" \t")
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= 18:
        assert parsed == int(stripped)
    else:
        assert parsed is None


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_every_id_a_stream_sends_parses_back(seq):
    assert parse_last_event_id(str(seq)) == seq


@pytest.mark.parametrize("raw", ["²", "¹²", "١٢", "１", "1e3", "0x1", "-1", "", " ", "1 2", "9" * 19, None])
def test_what_is_not_plain_ascii_digits_is_no_id(raw):
    assert parse_last_event_id(raw) is None
