"""The instance's automations flag (issue 11): whether its inbound messages go to the automations runner.

The worker-proxy copies InstanceRecord.automations_enabled onto every inbound message it stores (the
instance item is read there anyway), and the outbox sends a message to AutomationsQueue only when the
flag is on it: an instance without automations costs no read and no SQS request more per message
(docs/automations.md#runner). The flag follows the store's enabled count: call `sync` after every write
that can change it (create, replace, delete of an automation). The runner also clears a flag it finds
stale (no enabled automation left), so a missed sync costs at most one job.
"""

from __future__ import annotations

from zapgate_control.ports.automations import AutomationStore
from zapgate_control.ports.instances import InstanceStore


def sync(instances: InstanceStore, automations: AutomationStore, instance_id: str) -> bool:
    """Set the flag from the store's count (one GetItem, one UpdateItem); answers the flag."""
    enabled = automations.has_enabled(instance_id)
    instances.set_automations_enabled(instance_id, enabled)
    return enabled
