"""Keeps one instance's auth directory in step with the fenced store: restore on lock, save when changed.

The sidecar calls `restore()` after taking the instance's lock and before the transport opens
anything in the directory, `save_if_changed()` from its loop (every second or so is fine: the
unchanged case is a few stat() calls), `save_now()` on an orderly stop, and `wipe()` after a
logout. Saving needs the current lock token, asked of `token_provider` at each save, so a
lock lost in between is seen by the store's fence, not guessed here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from zapgate_sidecar.auth_state.dynamo_store import StaleAuthWriter
from zapgate_sidecar.auth_state.snapshot import (
    Fingerprint,
    clear_dir,
    dir_has_files,
    fingerprint,
    restore_dir,
    sha256_hex,
    snapshot_dir,
)

log = logging.getLogger(__name__)

# Filesystem timestamps can be as coarse as 1-2 s; a file touched this close to the fingerprint
# may be written again in the same tick with the same size, so such a fingerprint is not trusted.
RACY_WINDOW_NS = 2_000_000_000


class AuthStateStore(Protocol):
    def load(self, instance_id: str) -> bytes | None: ...

    def save(self, instance_id: str, lock_token: str, blob: bytes) -> int: ...

    def wipe(self, instance_id: str, lock_token: str) -> None: ...


class AuthStatePersister:
    def __init__(
        self,
        store: AuthStateStore,
        instance_id: str,
        auth_dir: str | os.PathLike[str],
        token_provider: Callable[[], str | None],
        min_interval_s: float = 5.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self.auth_dir = Path(auth_dir)
        self.token_provider = token_provider
        self.min_interval_s = min_interval_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._restored = False
        # sha256 of the blob known to be the store's current generation (restored or saved by us).
        self._stored_sha: str | None = None
        # Fingerprint digest of the directory when it was last seen to match _stored_sha.
        self._clean_fingerprint: str | None = None
        self._last_snapshot_at: float | None = None
        self._generation: int | None = None

    @property
    def generation(self) -> int | None:
        """Generation of our last successful save (None before the first)."""
        return self._generation

    @property
    def stored_sha256(self) -> str | None:
        return self._stored_sha

    # ------------------------------------------------------------ public
    def restore(self) -> bool:
        """Replace the local directory with the stored state; True if there was one.

        Without a stored state the local directory is emptied: whatever is on this host's disk
        was written by an earlier owner whose newer saves, or wipe, the store would know of.
        """
        with self._lock:
            started = time.monotonic()
            blob = self.store.load(self.instance_id)
            self._clean_fingerprint = None
            self._last_snapshot_at = None
            if blob is None:
                clear_dir(self.auth_dir)
                self._stored_sha = None
                self._restored = True
                log.info("auth state: nothing stored, starting empty", extra={"instance_id": self.instance_id})
                return False
            restore_dir(blob, self.auth_dir)
            self._stored_sha = sha256_hex(blob)
            self._restored = True
            log.info(
                "auth state restored",
                extra={
                    "instance_id": self.instance_id,
                    "bytes": len(blob),
                    "ms": int((time.monotonic() - started) * 1000),
                },
            )
            return True

    def save_if_changed(self) -> bool:
        """Upload if the directory changed since the last upload; True if something was uploaded.

        At most one snapshot per `min_interval_s`; the unchanged case costs only stat() calls.
        Raises StaleAuthWriter when the lock has moved to another sidecar.
        """
        with self._lock:
            self._require_restored()
            current = fingerprint(self.auth_dir)
            if current.digest == self._clean_fingerprint:
                return False
            now = self._monotonic()
            if self._last_snapshot_at is not None and now - self._last_snapshot_at < self.min_interval_s:
                return False
            return self._snapshot_and_save(current)

    def save_now(self) -> bool:
        """Snapshot regardless of fingerprint and interval (orderly stop); True if uploaded."""
        with self._lock:
            self._require_restored()
            return self._snapshot_and_save(fingerprint(self.auth_dir))

    def wipe(self) -> None:
        """Delete the state here and in the store (fenced). Local files go even if the store refuses.

        A logged-out device's keys must not linger on disk; if the fenced delete failed, the next
        owner restores dead credentials, gets LoggedOut on connect and wipes again.
        """
        with self._lock:
            try:
                token = self.token_provider()
                if token is None:
                    raise StaleAuthWriter(f"{self.instance_id}: no lock held, cannot wipe the stored state")
                self.store.wipe(self.instance_id, token)
            finally:
                clear_dir(self.auth_dir)
                self._stored_sha = None
                self._clean_fingerprint = None
                self._generation = None
                self._restored = True
            log.info("auth state wiped", extra={"instance_id": self.instance_id})

    # ------------------------------------------------------------ internals
    def _require_restored(self) -> None:
        # Saving before restoring would overwrite the stored state with whatever is on local disk.
        if not self._restored:
            raise RuntimeError("restore() must run before the first save")

    def _snapshot_and_save(self, before: Fingerprint) -> bool:
        # `before` is taken ahead of the snapshot: a write landing during the snapshot moves the
        # next fingerprint away from it, so that write is picked up by the next call.
        trusted = before.newest_mtime_ns < before.taken_at_ns - RACY_WINDOW_NS
        if not dir_has_files(self.auth_dir):
            # Emptiness is never uploaded: only wipe() may remove a stored state.
            return False
        self._last_snapshot_at = self._monotonic()
        started = time.monotonic()
        blob = snapshot_dir(self.auth_dir)
        digest = sha256_hex(blob)
        snapshot_ms = int((time.monotonic() - started) * 1000)
        if digest == self._stored_sha:
            self._clean_fingerprint = before.digest if trusted else None
            return False
        token = self.token_provider()
        if token is None:
            log.warning("auth state changed but no lock is held; not saved", extra={"instance_id": self.instance_id})
            return False
        self._generation = self.store.save(self.instance_id, token, blob)
        self._stored_sha = digest
        self._clean_fingerprint = before.digest if trusted else None
        log.debug(
            "auth state snapshot uploaded",
            extra={
                "instance_id": self.instance_id,
                "generation": self._generation,
                "bytes": len(blob),
                "snapshot_ms": snapshot_ms,
            },
        )
        return True
