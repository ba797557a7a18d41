"""The base of every worker-proxy contract model: lenient on input (aliases, unknown fields ignored,
strings stripped), primary names on output. Light on purpose: the public API builds the message
objects on it without importing the whole worker-proxy contract (contract/worker_proxy.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_strip_whitespace=True)

    def dump_wire(self) -> dict[str, Any]:
        """The JSON body as it travels, with the wire aliases (instanceId, messageId, from)."""
        return self.model_dump(mode="json", by_alias=True)
