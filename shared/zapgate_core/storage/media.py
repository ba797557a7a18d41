"""Media objects keyed by content hash, so identical bytes are stored once.

The control plane stores what sidecars send to /upload-media; a sidecar stores media too
large for a Lambda body directly. Both use this class, with their own S3 client.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_OUR_MEDIA_PATH = re.compile(r"/media/([0-9a-f]{64})$")


def media_key(sha256: str) -> str:
    return f"media/{sha256}"


def sha256_of_url(url: str | None) -> str | None:
    """The content hash of one of our media URLs (path ending /media/<64 hex>), else None.

    Presigned URLs die with the credentials that signed them: the hash is stored instead, and a
    fresh URL is signed on every read.
    """
    if not url:
        return None
    match = _OUR_MEDIA_PATH.search(urlsplit(url).path)
    return match.group(1) if match else None


class ContentAddressedMedia:
    def __init__(self, bucket: str, url_ttl_seconds: int, s3: Callable[[], Any]) -> None:
        self.bucket = bucket
        self.url_ttl_seconds = url_ttl_seconds
        self._s3 = s3  # a factory: clients are created lazily, once, by the caller's own module

    def put(self, data: bytes, mime_type: str | None) -> tuple[str, bool]:
        """(sha256, created). A HEAD first: re-uploading known bytes would only cost bandwidth."""
        digest = hashlib.sha256(data).hexdigest()
        s3 = self._s3()
        key = media_key(digest)
        try:
            s3.head_object(Bucket=self.bucket, Key=key)
            return digest, False
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=mime_type or "application/octet-stream")
        return digest, True

    def url(self, sha256: str) -> str:
        return self._s3().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": media_key(sha256)}, ExpiresIn=self.url_ttl_seconds
        )
