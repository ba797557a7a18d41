"""`POST /v1/media-uploads`: where to upload outbound media, within WhatsApp's per-type limits."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from zapgate_control.services.uploads import presign_upload
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_core.domain.message_kinds import FileKind
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse

router = APIRouter(prefix="/v1", tags=["media"])


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    media_type: FileKind  # a sticker is uploaded as an image (image/webp) and sent with type=sticker
    mime_type: str = Field(min_length=3, max_length=MAX_ID, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(gt=0, description="Exact size in bytes of the file you will upload")


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class UploadTicket(BaseModel):
    upload: PresignedPost = Field(description="POST multipart/form-data: these fields, then `file`")
    media_url: str = Field(description="Pass as media_url when sending")
    expires_in: int
    upload_id: str = Field(description="The object's id: an automation's media reply names it (`upload_id`), "
                                       "and each reply gets a fresh link to it")


@router.post(
    "/media-uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadTicket,
    responses={code: {"model": ErrorResponse} for code in (400, 401, 413, 415, 422)},
)
def create_upload(
    request: UploadRequest, tenant_id: str = Depends(require_tenant), stores: Stores = Depends(get_stores)
) -> UploadTicket:
    ticket = presign_upload(stores.media, tenant_id, request.media_type, request.mime_type, request.size)
    return UploadTicket(
        upload=PresignedPost(url=ticket.url, fields=ticket.fields), media_url=ticket.media_url,
        expires_in=ticket.expires_in, upload_id=ticket.upload_id,
    )
