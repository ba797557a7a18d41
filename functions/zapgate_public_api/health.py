"""`GET /v1/healthz` (no key: load balancers and status pages call it) and the WhatsApp circuit dependency."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from zapgate_control.services.whatsapp_runtime import require_configured, runtime
from zapgate_control.settings import Settings, get_settings

router = APIRouter(prefix="/v1", tags=["health"])


class WhatsAppRuntimeHealth(BaseModel):
    mode: Literal["http"]
    transport: str = Field(description="sidecar | external | none: where the WhatsApp workers run")
    status: Literal["configured", "not_configured"]
    disabled: bool = Field(description="true: sends and commands answer 503 WHATSAPP_NOT_CONFIGURED")


class WhatsAppHealth(BaseModel):
    runtime: WhatsAppRuntimeHealth


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    whatsapp: WhatsAppHealth


def require_whatsapp(settings: Settings = Depends(get_settings)) -> None:
    """For routes that make WhatsApp traffic: 503 WHATSAPP_NOT_CONFIGURED when no worker could carry it out."""
    require_configured(runtime(settings.whatsapp_workers, settings.sidecar_image_uri))


@router.get("/healthz", response_model=Health)
def healthz(settings: Settings = Depends(get_settings)) -> Health:
    """The API answers; `whatsapp.runtime` says whether sends and commands can be carried out. No DynamoDB call."""
    state = runtime(settings.whatsapp_workers, settings.sidecar_image_uri)
    return Health(whatsapp=WhatsAppHealth(runtime=WhatsAppRuntimeHealth.model_validate(state.as_health())))
