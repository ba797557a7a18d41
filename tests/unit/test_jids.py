"""Destination normalisation as the contract states it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zapgate_core.domain.jids import (
    InvalidDestination,
    InvalidJid,
    JidParts,
    chat_type_of,
    jid_user,
    normalize_destination,
    parse_jid,
    pn_jid,
)


@pytest.mark.parametrize(
    ("to", "kind", "jid"),
    [
        ("5511999999999", "pn", "5511999999999@s.whatsapp.net"),
        ("+55 (11) 99999-9999", "pn", "5511999999999@s.whatsapp.net"),
        ("5511999999999@s.whatsapp.net", "pn", "5511999999999@s.whatsapp.net"),
        ("5511999999999:12@s.whatsapp.net", "pn", "5511999999999@s.whatsapp.net"),
        ("5511999999999@c.us", "pn", "5511999999999@s.whatsapp.net"),
        ("551199999999-1234567890", "group", "551199999999-1234567890@g.us"),
        ("120363012345678901@g.us", "group", "120363012345678901@g.us"),
        ("123456789012345@lid", "lid", "123456789012345@lid"),
        ("123456789012345:4@lid", "lid", "123456789012345@lid"),
    ],
)
def test_normalises_every_contract_form(to: str, kind: str, jid: str) -> None:
    destination = normalize_destination(to)
    assert (destination.kind, destination.jid) == (kind, jid)


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("", "empty"),
        ("hello", "not-a-phone-number-or-jid"),
        ("12@s.whatsapp.net", "bad-phone-number"),
        ("abc@g.us", "bad-group-id"),
        ("5511999999999@example.com", "unknown-server:example.com"),
        ("@s.whatsapp.net", "missing-user"),
    ],
)
def test_refuses_what_is_not_a_destination(to: str, reason: str) -> None:
    with pytest.raises(InvalidDestination) as info:
        normalize_destination(to)
    assert str(info.value) == reason


@given(st.text(max_size=60))
def test_never_raises_anything_but_invalid_destination(to: str) -> None:
    try:
        destination = normalize_destination(to)
    except InvalidDestination:
        return
    assert destination.jid.count("@") == 1


def test_chat_type_and_pn_helpers() -> None:
    assert chat_type_of("120363@g.us") == "group"
    assert chat_type_of("5511@s.whatsapp.net") == "direct"
    assert pn_jid("5511977776666") == "5511977776666@s.whatsapp.net"
    assert pn_jid("123@lid") is None
    assert pn_jid(None) is None


# ---------------------------------------------------------------- the one structural parser (domain/jids.py)
@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("5511999999999", JidParts("5511999999999", "s.whatsapp.net")),
        ("+5511999999999", JidParts("5511999999999", "s.whatsapp.net")),
        ("5511999999999:12@s.whatsapp.net", JidParts("5511999999999", "s.whatsapp.net", 12)),
        ("5511999999999.1:3@s.whatsapp.net", JidParts("5511999999999", "s.whatsapp.net", 3, 1)),
        ("123456789012345@lid", JidParts("123456789012345", "lid")),
        ("120363012345678901@g.us", JidParts("120363012345678901", "g.us")),
        ("status@broadcast", JidParts("status", "broadcast")),
        ("first.last@g.us", JidParts("first.last", "g.us")),  # only user and LID servers carry an agent
    ],
)
def test_parse_jid_reads_whatsmeows_forms(value: str, parts: JidParts) -> None:
    assert parse_jid(value) == parts
    # to_str is its inverse, with the device kept; a bare number becomes its JID.
    assert parse_jid(parts.to_str(keep_device=True)) == parts


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not-a-jid"),
        ("@s.whatsapp.net", "missing-user"),
        ("5511@", "bad-server"),
        ("a@b@c", "bad-server"),
        ("5511999999999:ab@s.whatsapp.net", "bad-device"),
        ("x.y@lid", "bad-agent"),
        ("5511²", "not-a-jid"),
    ],
)
def test_parse_jid_refuses_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidJid) as refused:
        parse_jid(value)
    assert refused.value.reason == reason


@given(st.text(max_size=40))
def test_parse_jid_never_raises_anything_but_invalid_jid(value: str) -> None:
    try:
        parts = parse_jid(value)
    except InvalidJid:
        return
    assert parts.user and parts.server
    assert jid_user(value) == parts.user
