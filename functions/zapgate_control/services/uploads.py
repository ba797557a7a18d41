"""Presigned uploads for outbound media: the client PUTs bytes straight to S3 (never through a
Lambda body, capped near 6 MB), then sends with the returned media_url."""

from __future__ import annotations

import uuid
from typing import Any

from zapgate_control.errors import ApiError
from zapgate_core.domain.media_limits import MediaRejected, check_media

UPLOAD_URL_TTL_S = 15 * 60


def presign_upload(s3: Any, bucket: str, tenant_id: str, media_type: str, mime_type: str, size: int,
                   read_ttl_s: int) -> dict[str, Any]:
    try:
        check_media(media_type, mime_type, size)
    except MediaRejected as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    key = f"uploads/{tenant_id}/{uuid.uuid4()}"
    # A presigned POST can pin the exact size range and type; a presigned PUT cannot bound size.
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": mime_type},
        Conditions=[{"Content-Type": mime_type}, ["content-length-range", 1, size]],
        ExpiresIn=UPLOAD_URL_TTL_S,
    )
    media_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=read_ttl_s)
    return {"upload": {"url": post["url"], "fields": post["fields"]}, "media_url": media_url,
            "expires_in": UPLOAD_URL_TTL_S}
