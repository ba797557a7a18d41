"""Which proxy each simulated session came through (issue 13), so tests can see a proxy was used.

The sidecar's sim transport sends the proxy URL it was given with its connect; the network keeps only the
masked form (`socks5://user:***@host:port`): the password never reaches the sim's state or its answers.
"""

from __future__ import annotations

from zapgate_core.domain.proxies import InvalidProxy, parse_proxy_url

from .sim_state import _Instance

MAX_RECORDED = 50  # per instance: enough for any test, bounded for a long make run


def masked(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return parse_proxy_url(url).masked()
    except InvalidProxy:
        return "<invalid proxy>"


def record_proxy(instance: _Instance, session_id: str, url: str | None) -> None:
    """Called under the network's lock when a session connects."""
    instance.proxies.append({"session": session_id, "proxy": masked(url)})
    del instance.proxies[:-MAX_RECORDED]
