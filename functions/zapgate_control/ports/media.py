"""Media bytes, content-addressed (MediaBucket), and presigned uploads of outbound media."""

from __future__ import annotations

from typing import Protocol

from zapgate_core.domain.media_uploads import PresignedUpload

__all__ = ["MediaStore", "PresignedUpload"]


class MediaStore(Protocol):
    def put(self, data: bytes, mime_type: str | None) -> tuple[str, bool]: ...
    def url(self, sha256: str) -> str: ...
    def presign_upload(self, tenant_id: str, mime_type: str, max_bytes: int) -> PresignedUpload: ...
    def upload_url(self, tenant_id: str, upload_id: str) -> str | None: ...
