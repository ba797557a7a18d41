"""Proxy URLs of instances (issue 13): the one parser, and the forms that may be shown.

An instance may send its WhatsApp connection through an HTTP(S) or SOCKS5 proxy, credentials in the URL
(`socks5://user:pass@host:port`). The URL is a secret: error messages here never quote it (nor any part
of its credentials), and what may be shown is `ProxyAddress.summary()` (scheme, host, port, whether
credentials exist) or `masked()` (the URL with the password starred), never the URL itself.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PROXY_SCHEMES = ("http", "https", "socks5")
MAX_PROXY_URL = 2048
# A DNS name (labels of letters, digits, hyphens) or an IP literal; nothing that needs escaping.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class InvalidProxy(ValueError):
    """The proxy URL is unusable; str(self) says why without quoting it."""


@dataclass(frozen=True)
class ProxyAddress:
    scheme: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password)

    def summary(self) -> dict[str, object]:
        """What the API shows: never the credentials."""
        return {"scheme": self.scheme, "host": self.host, "port": self.port, "has_credentials": self.has_credentials}

    def masked(self) -> str:
        """The URL with the credentials starred (the user name kept: it identifies, it does not open)."""
        auth = f"{self.username or ''}:***@" if self.has_credentials else ""
        return f"{self.scheme}://{auth}{_host_part(self.host)}:{self.port}"


def _host_part(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def parse_proxy_url(url: str) -> ProxyAddress:
    """The proxy a URL names; InvalidProxy (never quoting the URL) when it is not `scheme://[user:pass@]host:port`
    with scheme http, https or socks5, a host name or IP address, and a port 1..65535."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidProxy("proxy url is empty")
    url = url.strip()
    if len(url) > MAX_PROXY_URL:
        raise InvalidProxy(f"proxy url is longer than {MAX_PROXY_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidProxy("proxy url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # urllib's own message may quote the URL: not passed on
        raise InvalidProxy("proxy url is malformed (port must be a number 1..65535)") from exc
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise InvalidProxy(f"proxy scheme must be one of {', '.join(PROXY_SCHEMES)}")
    host = parts.hostname or ""
    if not host or not _valid_host(host):
        raise InvalidProxy("proxy url needs a host (a DNS name or an IP address)")
    if port is None:
        raise InvalidProxy("proxy url needs a port")
    if not 1 <= port <= 65535:
        raise InvalidProxy("proxy port must be 1..65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidProxy("proxy url takes no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return ProxyAddress(scheme=scheme, host=host.lower(), port=port, username=username, password=password)


def redact(text: str, url: str | None) -> str:
    """`text` with the proxy URL's credentials starred wherever they appear (an error from the network may quote
    the proxy it dialled)."""
    if not url:
        return text
    try:
        address = parse_proxy_url(url)
    except InvalidProxy:
        return text.replace(url, "<proxy>") if url else text
    for secret in (url, url.strip(), address.password, address.username):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
