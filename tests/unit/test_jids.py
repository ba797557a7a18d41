"""Destination normalisation as the contract states it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zapgate_core.domain.jids import InvalidDestination, chat_type_of, normalize_destination, pn_jid


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
