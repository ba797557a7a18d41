"""An instance's WhatsApp auth directory, kept in DynamoDB so the instance can move between sidecars.

neonize can only keep whatsmeow's keys in a SQLite file (or Postgres), so the directory is
persisted as a whole: `snapshot` makes consistent compressed copies (no AWS), `dynamo_store`
keeps them chunked and fenced by the instance lock, `persister` decides when to restore and
when to save. Layout, fencing and the loss window: docs/auth-state.md.
"""

from zapgate_sidecar.auth_state.dynamo_store import (
    AuthStateConflict,
    AuthStateCorrupt,
    AuthStateError,
    AuthStateTooLarge,
    DynamoAuthStateStore,
    Manifest,
    StaleAuthWriter,
)
from zapgate_sidecar.auth_state.persister import AuthStatePersister, AuthStateStore
from zapgate_sidecar.auth_state.snapshot import (
    Fingerprint,
    SnapshotError,
    chunk,
    fingerprint,
    join,
    restore_dir,
    sha256_hex,
    snapshot_dir,
)

__all__ = [
    "AuthStateConflict",
    "AuthStateCorrupt",
    "AuthStateError",
    "AuthStatePersister",
    "AuthStateStore",
    "AuthStateTooLarge",
    "DynamoAuthStateStore",
    "Fingerprint",
    "Manifest",
    "SnapshotError",
    "StaleAuthWriter",
    "chunk",
    "fingerprint",
    "join",
    "restore_dir",
    "sha256_hex",
    "snapshot_dir",
]
