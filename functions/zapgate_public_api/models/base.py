"""What every public API body shares: strict requests and the one error shape."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zapgate_core.contract.common import (
    Status,
)

NAME_MAX = 100
MEDIA_URL_MAX = 4_096
FILE_NAME_MAX = 500

Direction = Literal["inbound", "outbound"]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- errors (documentation only)
class ErrorBody(BaseModel):
    code: str
    message: str
    status: Status | None = Field(
        default=None, description="Current instance status (INSTANCE_DISCONNECTED only)"
    )


class ErrorResponse(BaseModel):
    error: ErrorBody



def stripped_name(value: str) -> str:
    # Strip before the length check so "   " is refused instead of stored as a blank name.
    stripped = value.strip()
    if not stripped:
        raise ValueError("name must not be blank")
    return stripped
