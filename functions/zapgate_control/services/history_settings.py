"""An instance's `history_sync` setting (issue 13), changed by PATCH /v1/instances/{id}.

Kept apart from services/own_messages.py so the public API imports no worker-proxy contract. The setting lives on
the instance item (`history_sync`); the worker-proxy's history call reads it with the instance's tenant, so the
sidecar learns it from its own upload call and the control plane applies it to every batch.
"""

from __future__ import annotations

from zapgate_control.errors import NotFound
from zapgate_control.ports.own_messages import HistorySettingsStore, HistorySyncSetting


def set_history_sync(
    store: HistorySettingsStore, tenant_id: str, instance_id: str, setting: HistorySyncSetting
) -> None:
    if not store.set_history_setting(tenant_id, instance_id, setting):
        raise NotFound("instance")
