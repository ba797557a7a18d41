"""The answer of operations whose only news is that they happened."""

from __future__ import annotations

from zapgate_core.contract.base import ContractModel


class Done(ContractModel):
    """It happened: WhatsApp acknowledged it (or, for stanzas WhatsApp never answers, it left this device)."""

    done: bool = True
