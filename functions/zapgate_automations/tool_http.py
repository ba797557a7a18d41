"""ToolTransport over HTTP (httpx): one POST per tool call, no redirects, a bounded answer.

Deployed (allow_http False) the endpoint's host name is resolved first and the call refused when any
address is not a global one (loopback, private, link-local such as 169.254.169.254, ...): the tenant
names the URL, zapgate makes the call from inside AWS. The configuration already refused such literals
and http:// when it was saved; this catches names that resolve inward. A name that changes its answer
between this check and the connection (DNS rebinding) is not caught: see docs/automations.md#runner.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from zapgate_automations.agent_run import MAX_TOOL_ANSWER_BYTES, ToolAnswer

USER_AGENT = "zapgate-automations/1"


class HttpToolTransport:
    def __init__(self, *, allow_http: bool, client: httpx.Client | None = None) -> None:
        self.allow_http = allow_http
        self.client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> ToolAnswer:
        if not self.allow_http:
            refused = _internal_address(url)
            if refused:
                return ToolAnswer(None, error=refused)
        timeout = httpx.Timeout(timeout_s, connect=min(3.0, timeout_s))
        try:
            with self.client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received.extend(chunk)
                    if len(received) > MAX_TOOL_ANSWER_BYTES:
                        break
                return ToolAnswer(response.status_code, bytes(received[:MAX_TOOL_ANSWER_BYTES]))
        except httpx.TimeoutException:
            return ToolAnswer(None, error="the tool did not answer in time")
        except httpx.HTTPError as exc:
            return ToolAnswer(None, error=f"the tool could not be reached ({type(exc).__name__})")


def _internal_address(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return "the tool's host name does not resolve"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return "the tool's host resolves to an internal address"
    return None
