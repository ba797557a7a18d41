"""Instance proxies' URLs (issue 13): secrets, one per instance, kept outside the instance item.

The public API writes and deletes them (never reads them back: answers show InstanceProxy, the public part);
the worker-proxy reads one for the instance's live lock holder only (services/instance_settings.py).
Implementations never log, raise or return the URL anywhere but `get`'s answer.
"""

from __future__ import annotations

from typing import Protocol


class ProxySecretStore(Protocol):
    def put(self, instance_id: str, url: str) -> str:
        """Store (or replace) the instance's proxy URL; the version id of what was stored."""
        ...

    def get(self, instance_id: str, version: str | None = None) -> str | None:
        """The URL (of that version when given); None when there is none."""
        ...

    def delete(self, instance_id: str) -> None:
        """Forget it at once (no recovery window); nothing when there is none."""
        ...
