"""Auth-state snapshots in DynamoDB, chunked under the item size limit and fenced by the instance lock.

Layout (AuthStateTable, keys instance_id + part; docs/auth-state.md):

- ``part = "manifest"``: which generation is current, its chunk count, size, sha256, the lock
  token that wrote it. A wipe leaves a tombstone manifest (``wiped = true``, no chunks) so
  generation numbers never go back, which is what makes "older than the manifest = garbage" a
  safe rule for cleaning up.
- ``part = "g<generation:010d>#<n:05d>"``: the chunks of one generation, attribute ``data``.

A save writes the new generation's chunks first (nothing reads them until the manifest points
there), then flips the manifest in one TransactWriteItems whose ConditionCheck requires the
caller's token on the Instances item: a sidecar that lost its lock cannot move the manifest,
however late its write arrives. Chunk puts are first-writer-wins (``attribute_not_exists``, or
the same save's nonce for a retried put), so a stale writer can never overwrite chunks that a
current manifest points to.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zapgate_sidecar.auth_state.snapshot import DEFAULT_CHUNK_SIZE, chunk, join, sha256_hex

log = logging.getLogger(__name__)

MANIFEST = "manifest"
CHUNK_PREFIX = "g"
FORMAT_VERSION = 1
# ~190 items per save: past this, DynamoDB is the wrong home (docs/auth-state.md, sizing).
DEFAULT_MAX_BLOB_BYTES = 64 * 1024 * 1024
# Each bump skips a generation whose chunk keys an abandoned save already holds.
_MAX_GENERATION_BUMPS = 8
_LOAD_ATTEMPTS = 3
_BATCH_DELETE_SIZE = 25


class AuthStateError(Exception):
    pass


class StaleAuthWriter(AuthStateError):
    """The lock token is no longer the instance's: another sidecar owns it now. Nothing was changed."""


class AuthStateConflict(AuthStateError):
    """The manifest moved under a writer that still holds the lock (a concurrent save with the same token)."""


class AuthStateCorrupt(AuthStateError):
    """The stored chunks do not add up to the manifest's size and sha256."""


class AuthStateTooLarge(AuthStateError):
    pass


def chunk_part(generation: int, index: int) -> str:
    return f"{CHUNK_PREFIX}{generation:010d}#{index:05d}"


def generation_prefix(generation: int) -> str:
    return f"{CHUNK_PREFIX}{generation:010d}#"


def _generation_of(part: str) -> int | None:
    if not part.startswith(CHUNK_PREFIX) or "#" not in part:
        return None
    try:
        return int(part[len(CHUNK_PREFIX) : part.index("#")])
    except ValueError:
        return None


@dataclass(frozen=True)
class Manifest:
    generation: int
    chunks: int
    size: int
    sha256: str
    writer: str
    lock_token: str
    saved_at_ms: int
    wiped: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Manifest:
        return cls(
            generation=int(item["generation"]["N"]),
            chunks=int(item["chunks"]["N"]),
            size=int(item["size"]["N"]),
            sha256=item.get("sha256", {}).get("S", ""),
            writer=item.get("writer", {}).get("S", ""),
            lock_token=item.get("lock_token", {}).get("S", ""),
            saved_at_ms=int(item.get("saved_at_ms", {}).get("N", "0")),
            wiped=bool(item.get("wiped", {}).get("BOOL", False)),
        )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _cancellation_codes(exc: Exception) -> list[str]:
    response = getattr(exc, "response", None) or {}
    return [str(reason.get("Code") or "None") for reason in response.get("CancellationReasons", [])]


class DynamoAuthStateStore:
    """Fenced, chunked auth-state storage. Thread-safe: boto3 clients are, and no state is cached per save."""

    def __init__(
        self,
        auth_table: str,
        instances_table: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        client: Any | None = None,
    ) -> None:
        self.auth_table = auth_table
        self.instances_table = instances_table
        self.chunk_size = chunk_size
        self.max_blob_bytes = max_blob_bytes
        self._client = client
        self._client_lock = threading.Lock()
        self._swept: set[str] = set()

    @property
    def client(self) -> Any:
        # Created on first use: building a client costs tens of ms and a store is built at startup.
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.session.Session().client(
                        "dynamodb",
                        config=Config(
                            retries={"mode": "standard", "max_attempts": 6},
                            connect_timeout=5,
                            read_timeout=20,
                        ),
                    )
        return self._client

    # ------------------------------------------------------------ reads
    def manifest(self, instance_id: str) -> Manifest | None:
        response = self.client.get_item(
            TableName=self.auth_table,
            Key={"instance_id": {"S": instance_id}, "part": {"S": MANIFEST}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Manifest.from_item(item) if item else None

    def load(self, instance_id: str) -> bytes | None:
        """The current snapshot, verified against the manifest's sha256; None if none (or wiped)."""
        for _ in range(_LOAD_ATTEMPTS):
            manifest = self.manifest(instance_id)
            if manifest is None or manifest.wiped:
                return None
            pieces = self._read_generation(instance_id, manifest)
            if pieces is None:
                # Chunks missing: the manifest may have moved on between the two reads; read again.
                continue
            blob = join(pieces)
            if len(blob) != manifest.size or sha256_hex(blob) != manifest.sha256:
                raise AuthStateCorrupt(
                    f"{instance_id}: generation {manifest.generation} does not match its manifest "
                    f"({len(blob)} bytes)"
                )
            return blob
        raise AuthStateCorrupt(f"{instance_id}: chunks of the current generation are missing")

    def _read_generation(self, instance_id: str, manifest: Manifest) -> list[bytes] | None:
        pieces: list[bytes] = []
        for item in self._query(
            instance_id, generation_prefix(manifest.generation), projection="#p, #d, #w", consistent=True
        ):
            if item.get("writer", {}).get("S") != manifest.writer:
                return None
            if item["part"]["S"] != chunk_part(manifest.generation, len(pieces)):
                return None
            pieces.append(bytes(item["data"]["B"]))
        return pieces if len(pieces) == manifest.chunks else None

    def _query(self, instance_id: str, prefix: str, projection: str, consistent: bool) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.auth_table,
            "KeyConditionExpression": "instance_id = :i AND begins_with(#p, :prefix)",
            # Only the names the expressions use: DynamoDB rejects unused ExpressionAttributeNames.
            "ExpressionAttributeNames": {
                "#p": "part",
                **{k: v for k, v in {"#d": "data", "#w": "writer"}.items() if k in projection},
            },
            "ExpressionAttributeValues": {":i": {"S": instance_id}, ":prefix": {"S": prefix}},
            "ProjectionExpression": projection,
            "ConsistentRead": consistent,
        }
        while True:
            response = self.client.query(**request)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    # ------------------------------------------------------------ writes
    def save(self, instance_id: str, lock_token: str, blob: bytes) -> int:
        """Store `blob` as the new current generation and return its number.

        Raises StaleAuthWriter (manifest untouched) when `lock_token` is not the instance's
        current token, AuthStateConflict when the manifest moved under a still-valid token.
        """
        if len(blob) > self.max_blob_bytes:
            raise AuthStateTooLarge(f"{instance_id}: {len(blob)} bytes > {self.max_blob_bytes}")
        started = time.monotonic()
        current = self.manifest(instance_id)
        previous_generation = current.generation if current else 0
        pieces = chunk(blob, self.chunk_size)
        nonce = uuid.uuid4().hex
        generation = previous_generation + 1
        collided = False
        for _ in range(_MAX_GENERATION_BUMPS):
            if self._put_chunks(instance_id, generation, pieces, nonce):
                break
            collided = True
            generation += 1
        else:
            raise AuthStateConflict(f"{instance_id}: no free generation after {previous_generation}")

        manifest_item = {
            "instance_id": {"S": instance_id},
            "part": {"S": MANIFEST},
            "format": {"N": str(FORMAT_VERSION)},
            "generation": {"N": str(generation)},
            "chunks": {"N": str(len(pieces))},
            "size": {"N": str(len(blob))},
            "sha256": {"S": sha256_hex(blob)},
            "writer": {"S": nonce},
            "lock_token": {"S": lock_token},
            "saved_at_ms": {"N": str(int(time.time() * 1000))},
        }
        try:
            self._flip_manifest(instance_id, lock_token, manifest_item, current, nonce)
        except (StaleAuthWriter, AuthStateConflict):
            # The flip was refused, so nothing points at these chunks: they are ours alone to drop.
            self._delete_own_chunks(instance_id, generation, len(pieces), nonce)
            raise

        if current is not None and current.chunks:
            self._best_effort(self._batch_delete, instance_id, current.generation, current.chunks)
        if collided or instance_id not in self._swept:
            # Once per process and instance (a predecessor may have died mid-save), and after
            # a collision (the abandoned generation is now older than the manifest).
            self._best_effort(self.sweep, instance_id)
            self._swept.add(instance_id)
        log.info(
            "auth state saved",
            extra={
                "instance_id": instance_id,
                "generation": generation,
                "chunks": len(pieces),
                "bytes": len(blob),
                "ms": int((time.monotonic() - started) * 1000),
            },
        )
        return generation

    def wipe(self, instance_id: str, lock_token: str) -> None:
        """Drop the state (fenced): a tombstone manifest first, so nothing can load it, then the chunks."""
        for _ in range(_MAX_GENERATION_BUMPS):
            current = self.manifest(instance_id)
            generation = current.generation if current else 0
            tombstone = {
                "instance_id": {"S": instance_id},
                "part": {"S": MANIFEST},
                "format": {"N": str(FORMAT_VERSION)},
                "generation": {"N": str(generation)},
                "chunks": {"N": "0"},
                "size": {"N": "0"},
                "wiped": {"BOOL": True},
                "lock_token": {"S": lock_token},
                "saved_at_ms": {"N": str(int(time.time() * 1000))},
            }
            try:
                self._flip_manifest(instance_id, lock_token, tombstone, current, uuid.uuid4().hex)
                break
            except AuthStateConflict:
                continue
        else:
            raise AuthStateConflict(f"{instance_id}: manifest kept moving during wipe")
        self._best_effort(self.sweep, instance_id)
        log.info("auth state wiped", extra={"instance_id": instance_id, "generation": generation})

    def sweep(self, instance_id: str) -> int:
        """Delete chunks no manifest can ever point to again; returns how many.

        Only generations below the manifest's (or up to a tombstone's) qualify: a save always
        writes above the manifest it read, so anything higher may be a save in flight.
        """
        current = self.manifest(instance_id)
        if current is None:
            return 0
        keys: list[str] = []
        for item in self._query(instance_id, CHUNK_PREFIX, projection="#p", consistent=True):
            part = item["part"]["S"]
            generation = _generation_of(part)
            if generation is None:
                continue
            if generation < current.generation or (current.wiped and generation == current.generation):
                keys.append(part)
        self._delete_parts(instance_id, keys)
        if keys:
            log.info("auth state chunks swept", extra={"instance_id": instance_id, "chunks": len(keys)})
        return len(keys)

    # ------------------------------------------------------------ internals
    def _put_chunks(self, instance_id: str, generation: int, pieces: list[bytes], nonce: str) -> bool:
        """Write every chunk of one generation; False (after undoing ours) if the keys are taken."""
        for index, piece in enumerate(pieces):
            try:
                self.client.put_item(
                    TableName=self.auth_table,
                    Item={
                        "instance_id": {"S": instance_id},
                        "part": {"S": chunk_part(generation, index)},
                        "data": {"B": piece},
                        "writer": {"S": nonce},
                    },
                    # Our own nonce passes so that a put retried after a lost response is not a collision.
                    ConditionExpression="attribute_not_exists(#p) OR #w = :w",
                    ExpressionAttributeNames={"#p": "part", "#w": "writer"},
                    ExpressionAttributeValues={":w": {"S": nonce}},
                )
            except Exception as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise
                log.warning(
                    "auth state generation taken, moving on",
                    extra={"instance_id": instance_id, "generation": generation},
                )
                self._delete_own_chunks(instance_id, generation, index, nonce)
                return False
        return True

    def _flip_manifest(
        self,
        instance_id: str,
        lock_token: str,
        manifest_item: dict[str, Any],
        current: Manifest | None,
        request_token: str,
    ) -> None:
        if current is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#p)"}
            condition["ExpressionAttributeNames"] = {"#p": "part"}
        else:
            condition = {
                "ConditionExpression": "#g = :previous",
                "ExpressionAttributeNames": {"#g": "generation"},
                "ExpressionAttributeValues": {":previous": {"N": str(current.generation)}},
            }
        try:
            self.client.transact_write_items(
                # Makes a retried commit (response lost) succeed instead of failing its own condition.
                ClientRequestToken=request_token[:36],
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.instances_table,
                            "Key": {"id": {"S": instance_id}},
                            "ConditionExpression": "lock_token = :token",
                            "ExpressionAttributeValues": {":token": {"S": lock_token}},
                        }
                    },
                    {"Put": {"TableName": self.auth_table, "Item": manifest_item, **condition}},
                ],
            )
        except Exception as exc:
            if _error_code(exc) != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(exc)
            # The token check comes first: a stale writer is told so even if the manifest moved too.
            if not codes or codes[0] == "ConditionalCheckFailed":
                raise StaleAuthWriter(f"{instance_id}: lock token is no longer current") from exc
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise AuthStateConflict(f"{instance_id}: manifest changed during the save") from exc
            raise

    def _delete_own_chunks(self, instance_id: str, generation: int, count: int, nonce: str) -> None:
        for index in range(count):
            try:
                self.client.delete_item(
                    TableName=self.auth_table,
                    Key={"instance_id": {"S": instance_id}, "part": {"S": chunk_part(generation, index)}},
                    ConditionExpression="#w = :w",
                    ExpressionAttributeNames={"#w": "writer"},
                    ExpressionAttributeValues={":w": {"S": nonce}},
                )
            except Exception as exc:
                # Not ours (or already gone): leave it. Anything else is left for a later sweep.
                if _error_code(exc) != "ConditionalCheckFailedException":
                    log.warning(
                        "auth state chunk cleanup failed",
                        extra={"instance_id": instance_id, "error": _error_code(exc) or type(exc).__name__},
                    )
                    return

    def _batch_delete(self, instance_id: str, generation: int, count: int) -> None:
        self._delete_parts(instance_id, [chunk_part(generation, index) for index in range(count)])

    def _delete_parts(self, instance_id: str, parts: list[str]) -> None:
        for start in range(0, len(parts), _BATCH_DELETE_SIZE):
            requests = [
                {"DeleteRequest": {"Key": {"instance_id": {"S": instance_id}, "part": {"S": part}}}}
                for part in parts[start : start + _BATCH_DELETE_SIZE]
            ]
            pending: dict[str, Any] = {self.auth_table: requests}
            for attempt in range(8):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
            else:
                raise AuthStateError(f"{instance_id}: chunks left undeleted after retries")

    def _best_effort(self, action: Any, *args: Any) -> None:
        # Cleanup never fails a save that has already committed; a later sweep retries it.
        try:
            action(*args)
        except Exception as exc:
            log.warning(
                "auth state cleanup deferred",
                extra={"instance_id": args[0] if args else None, "error": _error_code(exc) or type(exc).__name__},
            )
