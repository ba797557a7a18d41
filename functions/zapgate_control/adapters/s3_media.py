"""Media bucket: objects keyed by content hash, so identical bytes are stored once."""

from __future__ import annotations

import hashlib

from zapgate_control.aws import client


def media_key(sha256: str) -> str:
    return f"media/{sha256}"


class S3MediaStore:
    def __init__(self, bucket: str, url_ttl_seconds: int) -> None:
        self.bucket = bucket
        self.url_ttl_seconds = url_ttl_seconds

    def put(self, data: bytes, mime_type: str | None) -> tuple[str, bool]:
        """(sha256, created). A HEAD first: re-uploading known bytes would only cost bandwidth."""
        digest = hashlib.sha256(data).hexdigest()
        s3 = client("s3")
        key = media_key(digest)
        try:
            s3.head_object(Bucket=self.bucket, Key=key)
            return digest, False
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=mime_type or "application/octet-stream"
        )
        return digest, True

    def url(self, sha256: str) -> str:
        return client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": media_key(sha256)}, ExpiresIn=self.url_ttl_seconds
        )
