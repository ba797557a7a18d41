"""Webhook signing and verification, URL rules, and the retry backoff numbers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from zapgate_core.domain.webhooks import (
    MAX_RECEIVE_COUNT,
    InvalidWebhookUrl,
    check_url,
    new_secret,
    retry_delay_s,
    signature,
    verify,
)

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"MESSAGE_INBOUND"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1764000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1764000000, BODY) == f"v1={expected}"
    assert signature(SECRET, "1764000000", BODY.decode()) == f"v1={expected}"  # str body, same bytes


def test_verify_accepts_the_signature_and_refuses_everything_else() -> None:
    header = signature(SECRET, 1764000000, BODY)
    assert verify(SECRET, "1764000000", BODY, header, now=1764000100)
    assert verify(SECRET, "1764000000", BODY, f"v1=deadbeef, {header}", now=1764000100)  # rotation: any one
    assert not verify("whsec_other", "1764000000", BODY, header, now=1764000100)
    assert not verify(SECRET, "1764000000", BODY + b" ", header, now=1764000100)  # body changed
    assert not verify(SECRET, "1764000001", BODY, header, now=1764000100)  # timestamp changed
    assert not verify(SECRET, "1764000000", BODY, header, now=1764000000 + 301)  # replayed too late
    assert verify(SECRET, "1764000000", BODY, header, tolerance_s=0, now=1764999999)  # tolerance off
    assert not verify(SECRET, None, BODY, header)
    assert not verify(SECRET, "soon", BODY, header)
    assert not verify(SECRET, "1764000000", BODY, None)


def test_secrets_are_long_random_and_prefixed() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and len(first) >= 40 and first != second


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks/zapgate",
        "https://example.com:8443/h?token=in-query-is-fine",
        "http://localhost:9000/hook",
        "http://127.0.0.1:9000/hook",
        "http://[::1]:9000/hook",
        "https://10.0.0.5/hook",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("https:///nohost", "https"),
        ("example.com/hook", "https"),
        ("https://user:pass@example.com/hook", "user:password"),
        ("https://example.com/hook#frag", "fragment"),
        ("https://example.com/a b", "spaces"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://example.com:99999/hook", "valid"),
        ("https://example.com/" + "a" * 2100, "longer"),
    ],
)
def test_refused_urls(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match=why):
        check_url(url)


def test_backoff_doubles_from_the_base_and_caps_at_900_seconds() -> None:
    no_jitter = lambda low, high: 0.0  # noqa: E731
    assert [retry_delay_s(n, 30, jitter=no_jitter) for n in range(1, 7)] == [30, 60, 120, 240, 480, 900]
    assert retry_delay_s(40, 30, jitter=no_jitter) == 900  # no overflow for silly counts
    assert retry_delay_s(0, 30, jitter=no_jitter) == 30  # a missing count is the first attempt
    assert retry_delay_s(3, 0) == 0  # base 0 (tests): retry at once


def test_backoff_adds_up_to_one_base_of_jitter() -> None:
    seen = {retry_delay_s(2, 30) for _ in range(200)}
    assert min(seen) >= 60 and max(seen) <= 90 and len(seen) > 5
    assert retry_delay_s(2, 30, jitter=lambda low, high: high) == 90


def test_total_time_to_the_dead_letter_queue() -> None:
    # maxReceiveCount 5: five attempts, each failure followed by its delay (the last one is the
    # wait before the receive that moves the message to the DLQ). Documented in docs/events.md.
    no_jitter = lambda low, high: 0.0  # noqa: E731
    total = sum(retry_delay_s(n, 30, jitter=no_jitter) for n in range(1, MAX_RECEIVE_COUNT + 1))
    assert total == 930  # 30 + 60 + 120 + 240 + 480 s = 15.5 min, + up to 5 x 30 s of jitter


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    from zapgate_core.domain.webhooks import ROTATION_GRACE_S, signature_header, signing_secrets

    webhook = {"secret": "whsec_new", "previous_secret": "whsec_old", "previous_secret_until": 1_000 + ROTATION_GRACE_S}
    assert signing_secrets(now_s=1_000, **webhook) == ["whsec_new", "whsec_old"]
    assert signing_secrets(now_s=1_000 + ROTATION_GRACE_S, **webhook) == ["whsec_new"]  # the grace is over
    assert signing_secrets(now_s=1_000, secret="whsec_only") == ["whsec_only"]
    header = signature_header(signing_secrets(now_s=1_000, **webhook), 1_000, BODY)
    assert header == f"{signature('whsec_new', 1_000, BODY)},{signature('whsec_old', 1_000, BODY)}"
    for secret in ("whsec_new", "whsec_old"):
        assert verify(secret, "1000", BODY, header, now=1_000)
    assert not verify("whsec_other", "1000", BODY, header, now=1_000)
