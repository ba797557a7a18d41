"""Auth-directory snapshots: consistent SQLite copies, deterministic packing, chunking, fingerprints."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import tarfile
import zlib
from pathlib import Path

import pytest

from zapgate_sidecar.auth_state import snapshot
from zapgate_sidecar.auth_state.snapshot import (
    MAGIC,
    SnapshotError,
    chunk,
    fingerprint,
    join,
    list_snapshot,
    restore_dir,
    sha256_hex,
    snapshot_dir,
)

DB = "whatsmeow.sqlite3"


def _wal_db(path: Path) -> sqlite3.Connection:
    """A WAL database that never checkpoints on its own, like a busy whatsmeow store between checkpoints."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE whatsmeow_sessions (their_id TEXT PRIMARY KEY, session BLOB)")
    return conn


def _rows(db: Path) -> list[tuple[str, bytes]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT their_id, session FROM whatsmeow_sessions ORDER BY their_id").fetchall()
    finally:
        conn.close()


def _committed_rows_without_wal(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'whatsmeow_sessions'").fetchone():
            return 0
        return int(conn.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()[0])
    finally:
        conn.close()


def _insert(conn: sqlite3.Connection, start: int, count: int) -> None:
    conn.execute("BEGIN")
    for i in range(start, start + count):
        conn.execute("INSERT INTO whatsmeow_sessions VALUES (?, ?)", (f"{i:06d}@s.whatsapp.net", os.urandom(200)))
    conn.execute("COMMIT")


# ---------------------------------------------------------------- consistency


def test_wal_database_with_uncheckpointed_writes_restores_every_committed_row(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    conn = _wal_db(auth / DB)
    try:
        _insert(conn, 0, 500)
        wal = auth / f"{DB}-wal"
        assert wal.stat().st_size > 0
        # The rows live only in -wal: a plain copy of the main file alone would lose them.
        bare = tmp_path / "bare"
        bare.mkdir()
        shutil.copy(auth / DB, bare / DB)
        assert _committed_rows_without_wal(bare / DB) == 0
        expected = conn.execute("SELECT their_id, session FROM whatsmeow_sessions ORDER BY their_id").fetchall()

        blob = snapshot_dir(auth)
    finally:
        conn.close()

    assert set(list_snapshot(blob)) == {DB}  # never -wal or -shm
    restored = tmp_path / "restored"
    restore_dir(blob, restored)
    assert sorted(os.listdir(restored)) == [DB]
    assert _rows(restored / DB) == expected
    assert len(expected) == 500


def test_snapshot_taken_during_an_open_write_transaction_has_only_committed_rows(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    conn = _wal_db(auth / DB)
    try:
        _insert(conn, 0, 100)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO whatsmeow_sessions VALUES ('uncommitted', x'00')")
        blob = snapshot_dir(auth, busy_timeout_s=1.0)
        conn.execute("COMMIT")
    finally:
        conn.close()
    restore_dir(blob, tmp_path / "restored")
    rows = _rows(tmp_path / "restored" / DB)
    assert len(rows) == 100
    assert "uncommitted" not in {their_id for their_id, _ in rows}


def test_rollback_journal_databases_are_captured_too(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    conn = sqlite3.connect(auth / "store.db", isolation_level=None)
    conn.execute("CREATE TABLE whatsmeow_sessions (their_id TEXT PRIMARY KEY, session BLOB)")
    _insert(conn, 0, 10)
    conn.close()
    restore_dir(snapshot_dir(auth), tmp_path / "restored")
    assert len(_rows(tmp_path / "restored" / "store.db")) == 10


def test_the_calling_process_never_opens_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In the sidecar, neonize's own SQLite holds POSIX locks on the store; a connect() or even an
    # open()/close() of the file from this process would drop them. Staging happens in a child.
    auth = tmp_path / "auth"
    auth.mkdir()
    conn = _wal_db(auth / DB)
    try:
        _insert(conn, 0, 20)
        in_process = snapshot_dir(auth, in_child=False)

        def refuse(*_: object, **__: object) -> None:
            raise AssertionError("the database was opened by the calling process")

        monkeypatch.setattr(snapshot.sqlite3, "connect", refuse)
        monkeypatch.setattr(snapshot, "_has_sqlite_header", refuse)
        assert snapshot_dir(auth) == in_process
    finally:
        conn.close()


# ---------------------------------------------------------------- other files


def test_non_sqlite_files_round_trip_byte_for_byte(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    (auth / "nested").mkdir(parents=True)
    (auth / "sim-credentials.json").write_text('{"jid": "5511999999999@s.whatsapp.net", "key": "abc"}')
    (auth / "nested" / "blob.bin").write_bytes(os.urandom(70_000))
    (auth / "empty.db").write_bytes(b"")  # a database suffix without a database is just a file
    (auth / "not-really.sqlite3").write_bytes(b"plain text that only has a database-like name")
    (auth / "link").symlink_to(auth / "sim-credentials.json")

    blob = snapshot_dir(auth)
    restored = tmp_path / "restored"
    restore_dir(blob, restored)

    for rel in ("sim-credentials.json", "nested/blob.bin", "empty.db", "not-really.sqlite3"):
        assert (restored / rel).read_bytes() == (auth / rel).read_bytes(), rel
    assert not (restored / "link").exists()  # symlinks are never captured
    assert (restored / "sim-credentials.json").stat().st_mode & 0o777 == 0o600


def test_restore_replaces_the_whole_directory(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.json").write_text("new")
    target = tmp_path / "auth"
    target.mkdir()
    (target / "a.json").write_text("old")
    (target / "leftover.json").write_text("from an older owner")

    restore_dir(snapshot_dir(source), target)

    assert sorted(os.listdir(target)) == ["a.json"]
    assert (target / "a.json").read_text() == "new"
    # No staging or old copies left next to it.
    assert sorted(os.listdir(tmp_path)) == ["auth", "source"]


def test_a_corrupt_blob_leaves_the_directory_untouched(tmp_path: Path) -> None:
    target = tmp_path / "auth"
    target.mkdir()
    (target / "keep.json").write_text("keep")
    blob = snapshot_dir(target)
    with pytest.raises(SnapshotError):
        restore_dir(blob[:-10] + b"0123456789", target)
    with pytest.raises(SnapshotError):
        restore_dir(b"not a snapshot", target)
    assert (target / "keep.json").read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["auth"]


def test_members_escaping_the_directory_are_refused(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    blob = MAGIC + snapshot.CODEC_ZLIB + zlib.compress(raw.getvalue())
    with pytest.raises(SnapshotError, match="unsafe"):
        restore_dir(blob, tmp_path / "auth")
    assert not (tmp_path / "escaped").exists()


def test_lzma_blobs_are_still_readable(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    (auth / "creds.json").write_text("{}")
    blob = snapshot_dir(auth, codec=snapshot.CODEC_LZMA)
    assert blob.startswith(MAGIC + snapshot.CODEC_LZMA)
    restore_dir(blob, tmp_path / "restored")
    assert (tmp_path / "restored" / "creds.json").read_text() == "{}"


# ---------------------------------------------------------------- determinism


def test_identical_content_gives_identical_bytes(tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    conn = _wal_db(first / DB)
    _insert(conn, 0, 50)
    (first / "creds.json").write_text('{"a": 1}')
    try:
        blob = snapshot_dir(first)
        assert snapshot_dir(first) == blob  # same directory, twice

        # Same content, different mtimes and inodes elsewhere.
        second = tmp_path / "second"
        restore_dir(blob, second)
        os.utime(second / "creds.json", (1, 1))
        assert snapshot_dir(second) == blob
    finally:
        conn.close()
    assert sha256_hex(blob) == sha256_hex(snapshot_dir(first))


def test_empty_or_missing_directory_snapshots_to_an_empty_state(tmp_path: Path) -> None:
    blob = snapshot_dir(tmp_path / "missing")
    assert list_snapshot(blob) == {}
    restore_dir(blob, tmp_path / "auth")
    assert os.listdir(tmp_path / "auth") == []


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("length", [0, 1, 349_999, 350_000, 350_001, 1_500_000])
def test_chunk_and_join_round_trip(length: int) -> None:
    blob = os.urandom(length)
    pieces = chunk(blob)
    assert join(pieces) == blob
    assert all(len(piece) <= 350_000 for piece in pieces)
    assert len(pieces) == max(1, -(-length // 350_000))


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        chunk(b"abc", size=0)
    assert chunk(b"abcdefg", size=3) == [b"abc", b"def", b"g"]


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_changes_on_a_committed_write_and_not_otherwise(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    conn = _wal_db(auth / DB)
    try:
        _insert(conn, 0, 10)
        before = fingerprint(auth)
        assert fingerprint(auth).digest == before.digest  # nothing changed

        conn.execute("SELECT count(*) FROM whatsmeow_sessions").fetchone()  # reads do not count
        assert fingerprint(auth).digest == before.digest

        _insert(conn, 10, 1)  # lands in -wal only
        after_wal = fingerprint(auth)
        assert after_wal.digest != before.digest

        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # moves it into the main file
        assert fingerprint(auth).digest != after_wal.digest
    finally:
        conn.close()


def test_fingerprint_sees_plain_files_and_ignores_shm(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    creds = auth / "creds.json"
    creds.write_text("{}")
    base = fingerprint(auth)
    (auth / f"{DB}-shm").write_bytes(b"\x00" * 32)
    assert fingerprint(auth).digest == base.digest
    creds.write_text('{"k": 1}')
    assert fingerprint(auth).digest != base.digest
    assert fingerprint(auth).newest_mtime_ns == creds.stat().st_mtime_ns
    assert fingerprint(tmp_path / "missing").newest_mtime_ns == 0
