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
        key = f"{UPLOAD_PREFIX}/{tenant_id}/{uuid.uuid4()}"
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
        return PresignedUpload(url=post["url"], fields=post["fields"], media_url=media_url, expires_in=UPLOAD_URL_TTL_S)
