"""Per-instance settings for the sidecar holding the instance (contract/instance_settings.py).

The public API changes a setting (services/instances.update): the store bumps the instance's
`settings_version` in the same write, and the live lock holder is told with a `settings` push frame. The
holder then reads them here, fenced by its lock: the answer may carry secrets, so it goes to the verified
live holder only (owner, token, unexpired by the control plane's clock), from a strongly consistent read, so
the holder never gets settings older than the version it was told about. Every renewing heartbeat also
answers each lock's settings_version (services/heartbeat.py), so a lost frame costs one renew interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceRecord, InstanceStore
from zapgate_control.ports.proxies import ProxySecretStore
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.locks import is_live_holder, live_lock_owner

# The public API imports this module to tell the holder; the contract's models are built only on the worker side.
if TYPE_CHECKING:
    from zapgate_core.contract.instance_settings import InstanceSettings


def for_lock_holder(
    instances: InstanceStore, instance_id: str, owner: str, lock_token: str, now_ms: int,
    proxies: ProxySecretStore | None = None,
) -> InstanceSettings:
    """The instance's settings for the caller, who must hold its lock right now (409 otherwise)."""
    record = instances.get(instance_id, consistent=True)
    if record is None:
        raise NotFound("instance")
    if not is_live_holder(record.lock, owner, lock_token, now_ms):
        metrics.add_metric(name="InstanceSettingsRefused", unit="Count", value=1)
        raise ApiError(409, "lock_not_held", "the caller does not hold this instance's lock")
    return settings_of(record, _proxy_url(record, proxies))


def _proxy_url(record: InstanceRecord, proxies: ProxySecretStore | None) -> str | None:
    """The URL of exactly the version the item names (issue 13). Missing (deleted under us, or no store) is a
    503, never "no proxy": a sidecar told "none" would connect directly and show the address the proxy hides."""
    if record.proxy is None:
        return None
    url = proxies.get(record.id, record.proxy.secret_version) if proxies is not None else None
    if url is None:
        metrics.add_metric(name="InstanceProxyUnavailable", unit="Count", value=1)
        raise ApiError(503, "proxy_unavailable", "the instance's proxy could not be read; retry")
    return url


def settings_of(record: InstanceRecord, proxy_url: str | None = None) -> InstanceSettings:
    """The settings a sidecar acts on, from the instance item. Every field here must change `settings_version`
    when it changes (InstanceChanges.changes_sidecar_settings, InstanceStore.set_proxy)."""
    from zapgate_core.contract.instance_settings import InstanceSettings, PacingSettings, ProxySettings

    return InstanceSettings(
        instance_id=record.id,
        version=record.settings_version,
        reject_calls=record.reject_calls,
        proxy=ProxySettings(url=proxy_url) if proxy_url else None,
        pacing=PacingSettings.model_validate(record.pacing) if record.pacing is not None else None,
    )


def tell_holder(record: InstanceRecord, waker: SidecarWaker | None, now_ms: int) -> bool:
    """Wake the live lock holder to fetch the settings again; best effort (its next renewal reports the version).
    False when nobody holds the lock (the next holder fetches them when it takes it) or the post failed."""
    owner = live_lock_owner(record.lock, now_ms)
    if owner is None or waker is None:
        return False
    return waker.wake(owner, push_frame("settings", record.id))
