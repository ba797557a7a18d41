"""Auth state in DynamoDB (moto): chunked round trips, fencing by the instance lock, the persister."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
from zapgate_devstack.emulator import MotoServer, create_template_resources
from zapgate_sidecar.auth_state import (
    AuthStateCorrupt,
    AuthStatePersister,
    DynamoAuthStateStore,
    StaleAuthWriter,
    restore_dir,
    snapshot_dir,
)
from zapgate_sidecar.auth_state import persister as persister_module
from zapgate_sidecar.auth_state.dynamo_store import MANIFEST, chunk_part

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsmeow"
TTL_MS = 30_000


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> Any:
        return self.now


@dataclass
class Tables:
    auth: str
    instances: str


@pytest.fixture(scope="module")
def tables(moto_server: MotoServer) -> Iterator[Tables]:
    from zapgate_control import aws

    aws.client.cache_clear()  # DynamoInstanceStore's client must point at this moto server
    names = create_template_resources(moto_server, prefix="auth")
    yield Tables(auth=names.physical["AuthStateTable"], instances=names.physical["InstancesTable"])
    aws.client.cache_clear()


@pytest.fixture
def store(tables: Tables) -> DynamoAuthStateStore:
    return DynamoAuthStateStore(tables.auth, tables.instances)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000_000)


@pytest.fixture
def instances(tables: Tables, clock: FakeClock) -> DynamoInstanceStore:
    return DynamoInstanceStore(tables.instances, clock=clock)


def _new_instance(instances: DynamoInstanceStore) -> str:
    return str(instances.create("tenant-a", "auth-test", 0, True).id)


def _lock(instances: DynamoInstanceStore, instance_id: str, owner: str) -> str:
    acquired, state = instances.acquire_lock(instance_id, owner, TTL_MS)
    assert acquired, state
    assert state.token
    return state.token


def _parts(store: DynamoAuthStateStore, instance_id: str) -> list[str]:
    paginator = store.client.get_paginator("query")  # pages stop at 1 MB: ~2 chunks each
    pages = paginator.paginate(
        TableName=store.auth_table,
        KeyConditionExpression="instance_id = :i",
        ExpressionAttributeValues={":i": {"S": instance_id}},
        ProjectionExpression="#p",
        ExpressionAttributeNames={"#p": "part"},
        ConsistentRead=True,
    )
    return [item["part"]["S"] for page in pages for item in page["Items"]]


class CallCounter:
    """Counts DynamoDB operations on one client through botocore's event hooks."""

    def __init__(self, client: Any, *operations: str) -> None:
        self.counts = dict.fromkeys(operations, 0)
        for operation in operations:
            client.meta.events.register(f"before-call.dynamodb.{operation}", self._counter(operation))

    def _counter(self, operation: str) -> Any:
        def count(**_: Any) -> None:
            self.counts[operation] += 1

        return count

    def reset(self) -> None:
        self.counts = dict.fromkeys(self.counts, 0)


# ---------------------------------------------------------------- store: round trips


def test_save_and_load_a_small_state(store: DynamoAuthStateStore, instances: DynamoInstanceStore) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    assert store.load(instance_id) is None

    assert store.save(instance_id, token, b"small state") == 1
    assert store.load(instance_id) == b"small state"
    manifest = store.manifest(instance_id)
    assert manifest is not None
    assert (manifest.generation, manifest.chunks, manifest.size, manifest.lock_token) == (1, 1, 11, token)


def test_multi_chunk_state_round_trips_and_old_generations_are_deleted(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore
) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    first = os.urandom(1_500_000)  # incompressible: 5 items of at most 350 000 bytes

    assert store.save(instance_id, token, first) == 1
    assert store.load(instance_id) == first
    assert sorted(_parts(store, instance_id)) == [*(chunk_part(1, n) for n in range(5)), MANIFEST]

    second = os.urandom(800_000)
    assert store.save(instance_id, token, second) == 2
    assert store.load(instance_id) == second
    assert sorted(_parts(store, instance_id)) == [*(chunk_part(2, n) for n in range(3)), MANIFEST]


def test_a_tampered_chunk_is_detected(store: DynamoAuthStateStore, instances: DynamoInstanceStore) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    store.save(instance_id, token, os.urandom(400_000))
    manifest = store.manifest(instance_id)
    assert manifest is not None
    store.client.update_item(
        TableName=store.auth_table,
        Key={"instance_id": {"S": instance_id}, "part": {"S": chunk_part(1, 1)}},
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"B": b"x" * 50_000}},
    )
    with pytest.raises(AuthStateCorrupt):
        store.load(instance_id)


# ---------------------------------------------------------------- store: fencing


def test_a_stale_owner_cannot_save_or_wipe_after_takeover(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, clock: FakeClock
) -> None:
    instance_id = _new_instance(instances)
    token_a = _lock(instances, instance_id, "sidecar-a")
    assert store.save(instance_id, token_a, b"state from A") == 1

    clock.now += TTL_MS + 1  # A stalls past its lease; B takes the instance over
    token_b = _lock(instances, instance_id, "sidecar-b")
    assert token_b != token_a

    with pytest.raises(StaleAuthWriter):
        store.save(instance_id, token_a, b"late write from A")
    assert store.load(instance_id) == b"state from A"  # manifest untouched
    assert sorted(_parts(store, instance_id)) == [chunk_part(1, 0), MANIFEST]  # A's chunks cleaned up

    assert store.save(instance_id, token_b, b"state from B") == 2
    with pytest.raises(StaleAuthWriter):
        store.save(instance_id, token_a, b"even later write from A")
    with pytest.raises(StaleAuthWriter):
        store.wipe(instance_id, token_a)
    assert store.load(instance_id) == b"state from B"


def test_a_token_of_an_unknown_or_unlocked_instance_is_stale(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore
) -> None:
    with pytest.raises(StaleAuthWriter):
        store.save("no-such-instance", "token", b"x")
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    assert instances.release_lock(instance_id, "sidecar-a", token)
    with pytest.raises(StaleAuthWriter):
        store.save(instance_id, token, b"x")
    assert store.load(instance_id) is None


def test_chunks_of_a_stale_writer_never_overwrite_the_current_generation(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, clock: FakeClock
) -> None:
    instance_id = _new_instance(instances)
    token_a = _lock(instances, instance_id, "sidecar-a")
    store.save(instance_id, token_a, b"generation 1")
    clock.now += TTL_MS + 1
    token_b = _lock(instances, instance_id, "sidecar-b")

    # A, stalled mid-save, got its chunks for generation 2 in before B started saving.
    stale_a = DynamoAuthStateStore(store.auth_table, store.instances_table)
    assert stale_a._put_chunks(instance_id, 2, [b"stale chunk"], "nonce-of-a")

    blob_b = os.urandom(700_000)
    generation = store.save(instance_id, token_b, blob_b)
    assert generation == 3  # generation 2 was taken, so B moved past it
    assert store.load(instance_id) == blob_b
    # A's abandoned generation is older than the manifest now, and was swept.
    assert sorted(_parts(store, instance_id)) == [chunk_part(3, 0), chunk_part(3, 1), MANIFEST]

    # A wakes up and keeps writing chunks: the keys B's manifest points at are not A's to overwrite.
    assert not stale_a._put_chunks(instance_id, 3, [b"x", b"y"], "nonce-of-a")
    with pytest.raises(StaleAuthWriter):
        stale_a.save(instance_id, token_a, b"A's late state")
    assert store.load(instance_id) == blob_b


def test_wipe_is_fenced_and_leaves_no_chunks(store: DynamoAuthStateStore, instances: DynamoInstanceStore) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    store.save(instance_id, token, os.urandom(500_000))

    store.wipe(instance_id, token)

    assert store.load(instance_id) is None
    assert _parts(store, instance_id) == [MANIFEST]  # a tombstone: no key material, generation kept
    manifest = store.manifest(instance_id)
    assert manifest is not None and manifest.wiped and manifest.generation == 1
    # Generations never go back, so "older than the manifest" stays a safe garbage rule.
    assert store.save(instance_id, token, b"paired again") == 2
    assert store.load(instance_id) == b"paired again"


# ---------------------------------------------------------------- persister


def _whatsmeow_like_dir(path: Path) -> sqlite3.Connection:
    path.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path / "whatsmeow.sqlite3", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE whatsmeow_sessions (their_id TEXT PRIMARY KEY, session BLOB)")
    (path / "sim-credentials.json").write_text('{"jid": "5511999999999@s.whatsapp.net"}')
    return conn


def _write_sessions(conn: sqlite3.Connection, start: int, count: int) -> None:
    conn.execute("BEGIN")
    for i in range(start, start + count):
        conn.execute("INSERT INTO whatsmeow_sessions VALUES (?, ?)", (f"{i}@s.whatsapp.net", os.urandom(300)))
    conn.execute("COMMIT")


def test_persister_uploads_only_when_content_changed(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, tmp_path: Path
) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    monotonic = FakeClock(1000.0)
    persister = AuthStatePersister(store, instance_id, tmp_path / "a", lambda: token, 5.0, monotonic=monotonic)
    calls = CallCounter(store.client, "PutItem", "TransactWriteItems")

    with pytest.raises(RuntimeError, match="restore"):
        persister.save_if_changed()
    assert persister.restore() is False
    assert persister.save_if_changed() is False  # an empty directory is never uploaded

    conn = _whatsmeow_like_dir(tmp_path / "a")
    try:
        _write_sessions(conn, 0, 100)
        assert persister.save_if_changed() is True
        assert persister.generation == 1
        assert calls.counts == {"PutItem": 1, "TransactWriteItems": 1}

        calls.reset()
        monotonic.now += 60
        assert persister.save_if_changed() is False  # nothing changed
        conn.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()
        os.utime(tmp_path / "a" / "sim-credentials.json")  # touched, same content
        monotonic.now += 60
        assert persister.save_if_changed() is False
        assert persister.save_now() is False
        assert calls.counts == {"PutItem": 0, "TransactWriteItems": 0}

        _write_sessions(conn, 100, 1)
        monotonic.now += 1
        assert persister.save_if_changed() is False  # changed, but within min_interval of the last snapshot
        monotonic.now += 5
        assert persister.save_if_changed() is True
        assert persister.generation == 2
        assert calls.counts == {"PutItem": 1, "TransactWriteItems": 1}
    finally:
        conn.close()


def test_an_unchanged_fingerprint_skips_the_snapshot(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    auth = tmp_path / "a"
    auth.mkdir()
    (auth / "sim-credentials.json").write_text("{}")
    old = 1_000_000_000  # far older than the racy window, so the fingerprint can be trusted
    os.utime(auth / "sim-credentials.json", (old, old))
    monotonic = FakeClock(1000.0)
    persister = AuthStatePersister(store, instance_id, auth, lambda: token, monotonic=monotonic)
    persister.restore()
    # restore() empties the dir when nothing is stored; write the state again after it.
    (auth / "sim-credentials.json").write_text("{}")
    os.utime(auth / "sim-credentials.json", (old, old))
    assert persister.save_if_changed() is True

    def no_snapshot(*_: Any, **__: Any) -> bytes:
        raise AssertionError("snapshot taken although nothing changed")

    monkeypatch.setattr(persister_module, "snapshot_dir", no_snapshot)
    monotonic.now += 60
    assert persister.save_if_changed() is False


def test_an_instance_moves_to_another_sidecar_and_the_old_one_is_fenced(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, clock: FakeClock, tmp_path: Path
) -> None:
    instance_id = _new_instance(instances)
    tokens: dict[str, str | None] = {"a": _lock(instances, instance_id, "sidecar-a"), "b": None}
    dir_a, dir_b = tmp_path / "host-a" / instance_id, tmp_path / "host-b" / instance_id
    persister_a = AuthStatePersister(store, instance_id, dir_a, lambda: tokens["a"])
    persister_b = AuthStatePersister(store, instance_id, dir_b, lambda: tokens["b"])

    persister_a.restore()
    conn_a = _whatsmeow_like_dir(dir_a)
    try:
        _write_sessions(conn_a, 0, 200)
        assert persister_a.save_now() is True

        clock.now += TTL_MS + 1
        tokens["b"] = _lock(instances, instance_id, "sidecar-b")
        (dir_b / "leftover-from-an-older-run.json").parent.mkdir(parents=True)
        (dir_b / "leftover-from-an-older-run.json").write_text("{}")
        assert persister_b.restore() is True  # resumes: no new QR needed
        assert sorted(os.listdir(dir_b)) == ["sim-credentials.json", "whatsmeow.sqlite3"]
        with sqlite3.connect(dir_b / "whatsmeow.sqlite3") as conn_b:
            assert conn_b.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()[0] == 200

        _write_sessions(conn_a, 200, 5)  # A keeps running for a while, unaware
        with pytest.raises(StaleAuthWriter):
            persister_a.save_now()
        blob = store.load(instance_id)
        assert blob is not None
        restore_dir(blob, tmp_path / "check")
        with sqlite3.connect(tmp_path / "check" / "whatsmeow.sqlite3") as check:
            assert check.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()[0] == 200
    finally:
        conn_a.close()

    # B's identical state is not uploaded again; its wipe removes both copies.
    assert persister_b.save_now() is False
    persister_b.wipe()
    assert os.listdir(dir_b) == []
    assert store.load(instance_id) is None
    with pytest.raises(StaleAuthWriter):
        persister_a.wipe()  # fenced; A's local copy goes anyway
    assert os.listdir(dir_a) == []


def test_no_token_means_no_upload(store: DynamoAuthStateStore, instances: DynamoInstanceStore, tmp_path: Path) -> None:
    instance_id = _new_instance(instances)
    persister = AuthStatePersister(store, instance_id, tmp_path / "a", lambda: None)
    persister.restore()
    (tmp_path / "a" / "sim-credentials.json").write_text("{}")
    assert persister.save_now() is False
    assert store.load(instance_id) is None


# ---------------------------------------------------------------- a real whatsmeow store, when one is checked in


def _real_stores() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00")


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_a_real_whatsmeow_store_round_trips(
    store: DynamoAuthStateStore, instances: DynamoInstanceStore, tmp_path: Path
) -> None:
    found = _real_stores()
    if not found:
        pytest.skip(f"no real whatsmeow SQLite store under {FIXTURES} (add one to exercise a real file)")
    instance_id = _new_instance(instances)
    token = _lock(instances, instance_id, "sidecar-a")
    for db in found:
        auth = tmp_path / "auth" / db.stem
        auth.mkdir(parents=True)
        shutil.copy(db, auth / "whatsmeow.sqlite3")
        for side in ("-wal", "-shm"):
            if Path(f"{db}{side}").exists():
                shutil.copy(f"{db}{side}", auth / f"whatsmeow.sqlite3{side}")
        expected = _dump(auth / "whatsmeow.sqlite3")

        store.save(instance_id, token, snapshot_dir(auth))
        blob = store.load(instance_id)
        assert blob is not None
        restored = tmp_path / "restored" / db.stem
        restore_dir(blob, restored)
        assert _dump(restored / "whatsmeow.sqlite3") == expected
        assert "whatsmeow_device" in "\n".join(expected)
