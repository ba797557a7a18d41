"""Groups on the simulated network: the account's groups as discovery sees them (whatsmeow GetJoinedGroups)."""

from __future__ import annotations

from zapgate_core.domain.jids import GROUP_SERVER

from .sim_core import SimCore
from .sim_state import InvalidRequest, NotConnected


class GroupsMixin(SimCore):
    """The account's groups; list_groups is what discovery reads."""

    def set_group(self, instance_id: str, jid: str, name: str) -> dict[str, str]:
        """The account joins a group, or a group it is in gets a new subject."""
        group_jid = jid if "@" in jid else f"{jid}@{GROUP_SERVER}"
        user, _, server = group_jid.partition("@")
        if server != GROUP_SERVER or not user:
            raise InvalidRequest(f"invalid group jid: must be <id>@{GROUP_SERVER}")
        with self._cond:
            self._instance(instance_id).groups[group_jid] = name
            return {"jid": group_jid, "name": name}

    def list_groups(self, instance_id: str, session_id: str) -> list[dict[str, str]]:
        """What the connected session sees of the account's groups (whatsmeow GetJoinedGroups)."""
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            return [{"jid": jid, "name": name} for jid, name in sorted(instance.groups.items())]
