"""PATCH /v1/instances/{id} `proxy` (issue 13): the request's proxy field, stored apart from the other fields.

Kept out of the route's body so the instance fields' write (services/instances.update) is unchanged: the proxy
is written first (its own conditional write, which also bumps settings_version and tells the lock holder),
then the other fields, whose ALL_NEW answer then shows the proxy's public part.
"""

from __future__ import annotations

from zapgate_control.services import instance_proxy
from zapgate_control.wiring import Stores
from zapgate_public_api.models.instances import InstancePatch


def apply_patch(stores: Stores, tenant_id: str, instance_id: str, request: InstancePatch) -> None:
    if "proxy" not in request.model_fields_set:
        return
    url = request.proxy.url if request.proxy is not None else None
    instance_proxy.set_proxy(stores.instances, stores.proxy_secrets, tenant_id, instance_id, url,
                             waker=stores.sidecar_waker)
