"""The control plane's media store on S3: content-addressed media (shared with the sidecar) plus the
presigned uploads the public API hands clients for outbound media.

Presigned uploads live here, not in zapgate_core.storage.media: the sidecar shares that module with its
own task role, which must grant exactly the S3 calls it makes (tests/integration/test_sidecar_deployment.py).
"""

from __future__ import annotations

import uuid

from zapgate_core.domain.media_uploads import PresignedUpload
from zapgate_core.storage.media import ContentAddressedMedia

UPLOAD_URL_TTL_S = 15 * 60
UPLOAD_PREFIX = "uploads"  # uploads/<tenant>/<uuid>: not content-addressed, the bytes are not seen first


class S3Media(ContentAddressedMedia):
    def presign_upload(self, tenant_id: str, mime_type: str, max_bytes: int) -> PresignedUpload:
        """A presigned POST for one object of at most `max_bytes` of `mime_type`, and its presigned GET."""
        upload_id = str(uuid.uuid4())
        key = _upload_key(tenant_id, upload_id)
        s3 = self._s3()
        # A presigned POST can pin the exact size range and type; a presigned PUT cannot bound size.
        post = s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": mime_type},
            Conditions=[{"Content-Type": mime_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=UPLOAD_URL_TTL_S,
        )
        media_url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_ttl_seconds
        )
        return PresignedUpload(url=post["url"], fields=post["fields"], media_url=media_url, expires_in=UPLOAD_URL_TTL_S,
                               upload_id=upload_id)

    def upload_url(self, tenant_id: str, upload_id: str) -> str | None:
        """A fresh presigned GET of the tenant's uploaded object; None when the tenant has no such upload (the
        key holds the tenant: another tenant's id names nothing). One HeadObject: a missing object is told
        here, not by a sidecar's failed download later."""
        key = _upload_key(tenant_id, upload_id)
        s3 = self._s3()
        try:
            s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _status(exc) in (403, 404):  # 403: no s3:ListBucket, so a missing key reads as denied
                return None
            raise
        return str(s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_ttl_seconds))


def _upload_key(tenant_id: str, upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}/{tenant_id}/{upload_id}"


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
