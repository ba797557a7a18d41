"""An instance's pacing settings (issue 13): the shape PATCH /v1/instances/{id} validates, the instance item
stores and the lock holder's settings answer carries (contract/instance_settings.py, `pacing`).

Off unless `enabled` is true; every field has a default, so `{"enabled": true}` is a complete setting. Bounds
come from the domain's rules (domain/pacing.py), so a value the runner could not honour is a 422 at the API.
"""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt, model_validator

from zapgate_core.contract.base import ContractModel
from zapgate_core.domain.pacing import CHECK_INTERVAL_MAX_MS, DAILY_CAP_MAX, DELAY_MAX_MS, PacingRules


class DelayRange(ContractModel):
    min: StrictInt = Field(default=1_000, ge=0, le=DELAY_MAX_MS, description="ms, at least this between sends")
    max: StrictInt = Field(default=4_000, ge=0, le=DELAY_MAX_MS, description="ms, at most this between sends")

    @model_validator(mode="after")
    def _ordered(self) -> DelayRange:
        if self.min > self.max:
            raise ValueError("delay_ms.min must not exceed delay_ms.max")
        return self


class PacingSettings(ContractModel):
    """Human-like pacing of an instance's sends; all of it applies only while `enabled`."""

    enabled: StrictBool = False
    delay_ms: DelayRange = Field(default_factory=DelayRange, description="random gap between two sends")
    typing: StrictBool = Field(
        default=True, description="show typing (recording for voice notes) for a time proportional to the text"
    )
    first_contact_daily_cap: StrictInt | None = Field(
        default=None, ge=0, le=DAILY_CAP_MAX,
        description="messages per UTC day to contacts who never wrote first; null = no cap. Over it a message "
        "waits (status held) for the next day; it is never dropped",
    )
    check_numbers_interval_ms: StrictInt = Field(
        default=0, ge=0, le=CHECK_INTERVAL_MAX_MS, description="minimum gap between two number checks"
    )

    def rules(self) -> PacingRules | None:
        """The runner's rules, or None when pacing is off (the runner's no-pacing path: no extra work)."""
        if not self.enabled:
            return None
        return PacingRules(
            delay_min_ms=self.delay_ms.min, delay_max_ms=self.delay_ms.max, typing=self.typing,
            first_contact_daily_cap=self.first_contact_daily_cap,
            check_numbers_interval_ms=self.check_numbers_interval_ms,
        )


# ---------------------------------------------------------------- worker-proxy (zapgate-only, docs/api.md)
HOLD_PATH = "/messages/hold"  # under /worker-proxy
WROTE_FIRST_PATH = "/contacts/wrote-first"


class HoldRequest(ContractModel):
    """The sidecar hands a claimed message back until `held_until_ms` (epoch ms): pacing may not send it yet."""

    message_id: str = Field(alias="messageId", min_length=1, max_length=200)
    held_until_ms: StrictInt = Field(alias="heldUntilMs", gt=0)
    reason: str = Field(default="first_contact_daily_cap", max_length=100)


class HoldResponse(ContractModel):
    id: str
    status: str
    held_until_ms: int | None = None


class WroteFirstResponse(ContractModel):
    """Whether the contact has ever written to the instance (it is in ContactsTable: resolved from an inbound)."""

    wrote: bool
