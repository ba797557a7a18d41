"""Proxy URLs (issue 13, zapgate_core/domain/proxies.py): what is accepted, and that no refusal quotes the URL."""

from __future__ import annotations

import pytest

from zapgate_core.domain.proxies import InvalidProxy, parse_proxy_url, redact

SECRET = "pa55-Word"


@pytest.mark.parametrize(("url", "expected"), [
    ("socks5://user:pa55@proxy.example.com:1080", ("socks5", "proxy.example.com", 1080, True)),
    ("http://10.0.0.1:3128", ("http", "10.0.0.1", 3128, False)),
    ("HTTPS://Proxy.Example.com:443/", ("https", "proxy.example.com", 443, False)),
    ("socks5://[2001:db8::1]:1", ("socks5", "2001:db8::1", 1, False)),
    ("http://user%40corp:p%3Ass@h:65535", ("http", "h", 65535, True)),
])
def test_usable_urls(url: str, expected: tuple[object, ...]) -> None:
    address = parse_proxy_url(url)
    assert (address.scheme, address.host, address.port, address.has_credentials) == expected


def test_the_shown_forms_never_hold_the_password() -> None:
    address = parse_proxy_url(f"socks5://bob:{SECRET}@proxy.example.com:1080")
    assert address.summary() == {"scheme": "socks5", "host": "proxy.example.com", "port": 1080,
                                 "has_credentials": True}
    assert address.masked() == "socks5://bob:***@proxy.example.com:1080"
    assert SECRET not in repr(address)
    assert (address.username, address.password) == ("bob", SECRET)


@pytest.mark.parametrize(("url", "why"), [
    (f"ftp://u:{SECRET}@h:21", "scheme must be one of http, https, socks5"),
    (f"socks4://u:{SECRET}@h:1080", "scheme must be one of"),
    (f"http://u:{SECRET}@:8080", "needs a host"),
    (f"http://u:{SECRET}@host", "needs a port"),
    (f"http://u:{SECRET}@host:0", "port must be 1..65535"),
    (f"http://u:{SECRET}@host:65536", "malformed"),
    (f"http://u:{SECRET}@host:port", "malformed"),
    (f"http://u:{SECRET}@ho st:80", "whitespace"),
    (f"http://u:{SECRET}@host:80/path", "no path"),
    (f"http://u:{SECRET}@bad_host!:80", "needs a host"),
    ("", "empty"),
    ("x" * 3000, "longer than"),
])
def test_unusable_urls_are_refused_without_quoting_them(url: str, why: str) -> None:
    with pytest.raises(InvalidProxy) as refused:
        parse_proxy_url(url)
    assert why in str(refused.value)
    assert SECRET not in str(refused.value) and "host" not in str(refused.value).replace("a host", "")


def test_redact_stars_the_credentials_an_error_quotes() -> None:
    url = f"http://bob:{SECRET}@10.0.0.1:3128"
    text = f"proxyconnect tcp: {url}: dial refused (user bob, password {SECRET})"
    assert SECRET not in redact(text, url) and url not in redact(text, url)
    assert redact("nothing here", None) == "nothing here"
