"""An instance's proxy (issue 13): the URL is a secret, the instance item keeps only its public part.

Setting one: the tenant's instance is checked first (404 before anything is stored), the URL goes to the
secret store (a new version), then the item gets the public part with that version and a settings_version
bump in one write (services/instance_settings.py hands the URL of exactly that version to the lock holder,
so a concurrent change can never pair one write's item with another's URL), then the holder is told. Removing
it: the item first (no holder can be handed the URL afterwards), then the secret. The URL is never logged,
never put in an error, never answered.
"""

from __future__ import annotations

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.instances import InstanceNotFound, InstanceProxy, InstanceRecord, InstanceStore
from zapgate_control.ports.proxies import ProxySecretStore
from zapgate_control.services import instance_settings
from zapgate_control.services.instances import require
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.domain.proxies import InvalidProxy, parse_proxy_url


def set_proxy(
    instances: InstanceStore, secrets: ProxySecretStore, tenant_id: str, instance_id: str, url: str | None,
    waker: SidecarWaker | None = None,
) -> InstanceRecord:
    """Set the instance's proxy (None removes it); the instance after the change. 422 for an unusable URL."""
    current = require(instances, tenant_id, instance_id)
    if url is None:
        if current.proxy is None:
            return current  # nothing to remove: no version bump, no reconnect
        record = _write(instances, tenant_id, instance_id, None)
        forget(secrets, instance_id)
    else:
        try:
            address = parse_proxy_url(url)
        except InvalidProxy as exc:  # the route's model refuses these first; the message never quotes the URL
            raise ApiError(422, "validation_error", f"proxy.url: {exc}") from exc
        version = secrets.put(instance_id, url)
        proxy = InstanceProxy(scheme=address.scheme, host=address.host, port=address.port,
                              has_credentials=address.has_credentials, secret_version=version)
        record = _write(instances, tenant_id, instance_id, proxy)
    metrics.add_metric(name="InstanceProxyChanged", unit="Count", value=1)
    instance_settings.tell_holder(record, waker, system_clock())  # it reconnects through the new one
    return record


def forget(secrets: ProxySecretStore, instance_id: str) -> None:
    """Delete the instance's proxy secret; best effort (a leftover is unreachable: no item points at it)."""
    try:
        secrets.delete(instance_id)
    except Exception as exc:
        logger.warning("proxy secret not deleted", extra={"instance_id": instance_id,
                                                          "error_type": type(exc).__name__})


def _write(instances: InstanceStore, tenant_id: str, instance_id: str, proxy: InstanceProxy | None) -> InstanceRecord:
    try:
        return instances.set_proxy(tenant_id, instance_id, proxy)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
