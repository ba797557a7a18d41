"""Webhook rules shared by the control plane and receivers: signing, URLs, retry timing, how many.

Signature: X-Zapgate-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>, where
timestamp is X-Zapgate-Timestamp (Unix seconds) and body the exact bytes POSTed. Signing the
timestamp with the body lets a receiver refuse replays of an old delivery. During a secret
rotation the header carries two signatures, `v1=<new>,v1=<previous>`, for ROTATION_GRACE_S.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import random
import secrets
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

SIGNATURE_VERSION = "v1"
EVENT_ID_HEADER = "X-Zapgate-Event-Id"
TIMESTAMP_HEADER = "X-Zapgate-Timestamp"
SIGNATURE_HEADER = "X-Zapgate-Signature"
EVENT_TYPE_HEADER = "X-Zapgate-Event-Type"
DEFAULT_TOLERANCE_S = 300
URL_MAX = 2_048
SECRET_PREFIX = "whsec_"
# Webhooks one tenant may register; also keeps a fan-out to one SendMessageBatch (10 entries) and a
# tenant's webhooks to one page of one Query.
MAX_WEBHOOKS_PER_TENANT: Final = 10

# Retries (SQS redelivery): visibility = min(cap, base * 2^(receive_count - 1)) + jitter in [0, base).
RETRY_CAP_S = 900
MAX_RECEIVE_COUNT = 5  # RedrivePolicy.maxReceiveCount in template.yaml: the 6th receive goes to the DLQ
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int | str, body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


# After a rotation the previous secret keeps signing beside the new one for this long, so a receiver can
# switch to the new secret at its own pace without rejecting a delivery.
ROTATION_GRACE_S: Final = 24 * 3600


def signing_secrets(
    secret: str, now_s: float, previous_secret: str | None = None, previous_secret_until: float | None = None
) -> list[str]:
    """The secrets a delivery is signed with: the webhook's secret, plus the previous one until its grace ends."""
    found = [secret]
    if previous_secret and previous_secret_until is not None and now_s < previous_secret_until:
        found.append(previous_secret)
    return found


def signature_header(secrets_: list[str], timestamp: int | str, body: bytes | str) -> str:
    """`v1=<new>` or, during a rotation, `v1=<new>,v1=<previous>`: verify() accepts either."""
    return ",".join(signature(secret, timestamp, body) for secret in secrets_)


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes | str,
    header: str | None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `header` signs (timestamp, body) with `secret` and the timestamp is recent.

    The header may carry several comma-separated signatures (e.g. during a secret rotation);
    one valid v1 signature is enough. Comparison is constant-time.
    """
    if not timestamp or not header:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if tolerance_s and abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


class InvalidWebhookUrl(ValueError):
    """str(self) says why."""


def check_url(url: str) -> str:
    """https anywhere; plain http only to this machine (local receivers). Returns the URL unchanged."""
    if len(url) > URL_MAX:
        raise InvalidWebhookUrl(f"longer than {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise InvalidWebhookUrl("not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise InvalidWebhookUrl("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be stored and listed in clear; the signature authenticates us.
        raise InvalidWebhookUrl("must not carry user:password@")
    if parts.fragment:
        raise InvalidWebhookUrl("must not have a #fragment")
    if any(ord(ch) < 33 or ch == "\x7f" for ch in url):
        raise InvalidWebhookUrl("must not contain spaces or control characters")
    if scheme == "http" and host not in LOCAL_HOSTS:
        raise InvalidWebhookUrl("must be https:// (http:// only for localhost / 127.0.0.1)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        # 169.254.x (cloud metadata endpoints) and friends are never an application's webhook.
        raise InvalidWebhookUrl("must not point at a link-local, multicast or unspecified address")
    return url


def retry_delay_s(receive_count: int, base_s: float, cap_s: float = RETRY_CAP_S,
                  jitter: Callable[[float, float], float] = random.uniform) -> int:
    """Seconds before the next attempt after attempt number `receive_count` (1-based) failed.

    Exponential (base, 2·base, 4·base, ...) capped at `cap_s`, plus up to `base_s` of random
    jitter so receivers coming back from an outage are not hit by every retry at once. Whole
    seconds, as ChangeMessageVisibility takes them; never above SQS's 12-hour maximum.
    """
    attempt = max(1, receive_count)
    exponent = min(attempt - 1, 32)  # 2^32 · base is far past any cap; avoids huge floats
    delay = min(cap_s, base_s * 2**exponent) + (jitter(0, base_s) if base_s > 0 else 0)
    return min(43_200, max(0, math.ceil(delay)))
