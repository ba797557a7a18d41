"""Presigned uploads for outbound media: the client POSTs bytes straight to the media store (never through
a Lambda body, capped near 6 MB), then sends with the returned media_url."""

from __future__ import annotations

from zapgate_control.errors import ApiError
from zapgate_control.ports.media import MediaStore, PresignedUpload
from zapgate_core.domain.media_limits import MediaRejected, check_media


def presign_upload(media: MediaStore, tenant_id: str, media_type: str, mime_type: str, size: int) -> PresignedUpload:
    try:
        check_media(media_type, mime_type, size)
    except MediaRejected as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return media.presign_upload(tenant_id, mime_type, size)
