"""Per-instance settings the sidecar holding an instance needs (zapgate extension, docs/sidecar.md#instance-settings).

The instance item carries `settings_version`, bumped by every change to a setting a sidecar acts on. The lock
holder reads the settings with `GET /worker-proxy/instances/{id}/settings?instanceOwner=&lockToken=` when it
takes the lock and whenever the version it holds is no longer the instance's: a `settings` push frame says so
at once, and every renewing heartbeat answers each lock's `settings_version` from the renewal's own write (no
extra read), so a lost frame costs at most one renew interval. Nothing runs while nothing changes.

The answer is for the verified lock holder only (409 otherwise): it may carry secrets (the proxy's URL with
its credentials), which never leave the control plane in any other answer.

Each concern is an optional sub-object; None means "not configured" (the feature is off). Parts other
sessions own (pacing, history sync) add their fields to their own model here; unknown fields are ignored so
an older sidecar parses a newer server's answer.
"""

from __future__ import annotations

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.pacing import PacingSettings  # issue 13's pacing: its model lives beside its rules

SETTINGS_PATH = "/instances/{instance_id}/settings"  # under /worker-proxy
MAX_PROXY_URL = 2048


class ProxySettings(ContractModel):
    """The proxy the instance's WhatsApp connection goes through. `url` holds the credentials: only the lock
    holder ever gets it, and nothing may log it (the sidecar passes it to the transport and nowhere else)."""

    url: str = Field(min_length=1, max_length=MAX_PROXY_URL, description="http(s):// or socks5://[user:pass@]host:port")

    def __repr__(self) -> str:  # a settings object printed by accident must not print the credentials
        return "ProxySettings(url=<secret>)"

    __str__ = __repr__


class HistorySyncSettings(ContractModel):
    """History sync after linking (issue 13, owned by the own-device/history work): fields to be added there."""


class InstanceSettings(ContractModel):
    instance_id: str = Field(min_length=1, max_length=MAX_ID)
    version: int = Field(ge=0, description="the instance's settings_version these settings are")
    reject_calls: bool = False
    proxy: ProxySettings | None = None
    pacing: PacingSettings | None = None
    history_sync: HistorySyncSettings | None = None


DEFAULT_VERSION = 0  # an instance no setting was ever changed on; also what a server without the extension implies


def defaults(instance_id: str) -> InstanceSettings:
    """What a sidecar runs with when the server has no settings endpoint (another worker-proxy: 404)."""
    return InstanceSettings(instance_id=instance_id, version=DEFAULT_VERSION)
