"""Media uploads from sidecars: decoded, capped, stored by content hash, answered with a presigned URL."""

from __future__ import annotations

import base64
import binascii

from zapgate_control.errors import ApiError
from zapgate_control.observability import metrics
from zapgate_control.ports.media import MediaStore
from zapgate_core.contract.worker_proxy import UploadMediaRequest, UploadMediaResponse


def upload(media: MediaStore, request: UploadMediaRequest, max_bytes: int) -> UploadMediaResponse:
    encoded = request.bytes_base64
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]  # a data URL is accepted; only its payload is media
    # Reject before decoding: base64 is 4/3 of the bytes, so this bounds memory too.
    if len(encoded) > (max_bytes * 4) // 3 + 4:
        raise ApiError(413, "media_too_large", f"media exceeds {max_bytes} bytes")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid_base64", "bytes_base64 is not valid base64") from exc
    if not data:
        raise ApiError(400, "empty_media", "bytes_base64 decodes to nothing")
    if len(data) > max_bytes:
        raise ApiError(413, "media_too_large", f"media exceeds {max_bytes} bytes")
    digest, created = media.put(data, request.mime_type)
    metrics.add_metric(name="MediaUploaded" if created else "MediaDeduplicated", unit="Count", value=1)
    return UploadMediaResponse(media_url=media.url(digest), sha256=digest, size=len(data))
