"""Where an instance's WhatsApp credentials survive a sidecar: DynamoDB when configured, else local disk.

The runtime sees one small interface; `for_instance` picks DynamoDB (fenced by the lock
token, so a stale owner cannot overwrite) when AUTH_STATE_TABLE is set, and plain files
under AUTH_BASE otherwise (a single sidecar with a persistent volume, as in seed 000).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zapgate_sidecar.settings import SidecarSettings

if TYPE_CHECKING:  # the persister module imports boto3; only a DynamoDB-backed sidecar loads it
    from zapgate_sidecar.auth_state.persister import AuthStatePersister


class LockLost(Exception):
    """A fenced write was refused: another sidecar owns the instance now."""


class CorruptAuthState(Exception):
    """The stored credentials fail their checksum: useless, so the instance starts over."""


class AuthPersistence(Protocol):
    def restore(self) -> bool: ...
    def save_if_changed(self) -> bool: ...
    def save_now(self) -> None: ...
    def wipe(self) -> None: ...


class LocalDiskAuth:
    """Credentials stay in auth_dir; nothing to restore or upload."""

    def __init__(self, auth_dir: Path) -> None:
        self.auth_dir = auth_dir

    def restore(self) -> bool:
        return any(self.auth_dir.iterdir()) if self.auth_dir.exists() else False

    def save_if_changed(self) -> bool:
        return False

    def save_now(self) -> None:
        return None

    def wipe(self) -> None:
        shutil.rmtree(self.auth_dir, ignore_errors=True)
        self.auth_dir.mkdir(parents=True, exist_ok=True)


class FencedDynamoAuth:
    """The DynamoDB persister, with a refused fenced write reported as the lock loss it is."""

    def __init__(
        self, persister: AuthStatePersister, stale_error: type[Exception], corrupt_error: type[Exception]
    ) -> None:
        self._persister = persister
        self._stale_error = stale_error
        self._corrupt_error = corrupt_error

    def _call(self, action: Callable[[], object]) -> object:
        try:
            return action()
        except self._stale_error as exc:
            raise LockLost(str(exc)) from exc
        except self._corrupt_error as exc:
            raise CorruptAuthState(str(exc)) from exc

    def restore(self) -> bool:
        return bool(self._call(self._persister.restore))

    def save_if_changed(self) -> bool:
        return bool(self._call(self._persister.save_if_changed))

    def save_now(self) -> None:
        self._call(self._persister.save_now)

    def wipe(self) -> None:
        self._call(self._persister.wipe)


@functools.cache
def _shared_store(auth_table: str, instances_table: str) -> Any:
    from zapgate_sidecar.auth_state.dynamo_store import DynamoAuthStateStore

    return DynamoAuthStateStore(auth_table, instances_table)


def for_instance(
    settings: SidecarSettings, instance_id: str, auth_dir: Path, token: Callable[[], str | None]
) -> AuthPersistence:
    if not settings.auth_state_table:
        return LocalDiskAuth(auth_dir)
    from zapgate_sidecar.auth_state.dynamo_store import AuthStateCorrupt, StaleAuthWriter
    from zapgate_sidecar.auth_state.persister import AuthStatePersister

    # One store (one boto3 client) for every instance: a client per instance cost ~10 MB each
    # (bench/sidecar_memory.py), the bulk of a sidecar's memory per instance.
    store = _shared_store(settings.auth_state_table, settings.instances_table or "")
    persister = AuthStatePersister(store, instance_id, auth_dir, token, min_interval_s=settings.auth_save_interval_s)
    return FencedDynamoAuth(persister, StaleAuthWriter, AuthStateCorrupt)
