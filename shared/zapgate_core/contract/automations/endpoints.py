"""The endpoints zapgate calls on a tenant's behalf (an agent's base_url, a tool's url) and what makes one
acceptable.

Deployed, an endpoint must be https and must not name a loopback, private or link-local address; a local
stack allows http and local hosts. The flag is a parameter (ALLOW_HTTP in pydantic's validation context,
or `check_endpoint_url`'s allow_http), never read from the environment here, so what a deployed API
accepts is decided by the one place that knows it is deployed.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import ValidationInfo

from zapgate_core.contract.automations.common import invalid

ALLOW_HTTP = "allow_http"  # validation-context key: True on a local stack (http and local hosts allowed)


def check_endpoint_url(url: str, *, allow_http: bool) -> str:
    """The URL of an endpoint zapgate calls (a provider, a tool); ValueError says what is wrong.

    Deployed (allow_http False): https only, and no host that is a loopback, private, link-local or
    otherwise internal address literal (nor "localhost"): zapgate would otherwise call into its own
    network on a tenant's behalf. Names that resolve to such addresses are the caller's to refuse when it
    connects. Never credentials in the URL: configurations are returned by the API and appear in logs.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_http else ("https",)
    if scheme not in allowed or not parts.hostname:
        raise ValueError("must be an http(s) URL" if allow_http else "must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user:password@)")
    if not allow_http and _is_local_host(parts.hostname):
        raise ValueError("must not point at a loopback, private or link-local address")
    return url


def _is_local_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".internal", ".local")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def endpoint_in_context(value: str | None, info: ValidationInfo) -> str | None:
    """A field validator's check of an endpoint, allowing http when the validation context says so."""
    if value is None:
        return None
    allow_http = bool((info.context or {}).get(ALLOW_HTTP, False))
    try:
        return check_endpoint_url(value, allow_http=allow_http)
    except ValueError as exc:
        raise invalid("endpoint_url", f"URL {exc}") from None
