"""Consistent, deterministic, compressed snapshots of an instance's auth directory (no AWS here).

whatsmeow writes its keys to a SQLite database in WAL mode while the client runs. Copying the
file bytes would capture a torn state (a page half-written, or the newest transactions still in
`-wal` and not in the main file), so SQLite files are copied with SQLite's backup API, which
reads one committed snapshot under a read transaction. `-wal`/`-shm`/`-journal` files are never
captured themselves: the backup already folds their committed content in.

Nothing in the live directory is opened by the calling process: a child process (this file run
as a script, stdlib only) copies it into a private staging dir, and the caller packs the copies.
neonize's Go library carries its own SQLite (mattn/go-sqlite3). POSIX locks belong to the
process, and closing any descriptor of a file drops all of the process's locks on it, so
Python's sqlite3 in the same process, or even a plain open()/close() to read a header, would
silently release the locks neonize holds: sqlite.org/howtocorrupt.html 2.2 and 2.2.1. Locks
between processes work as designed. The child costs ~50 ms, paid only when something changed.

Blob layout: MAGIC + one codec byte + compressed tar. The tar has fixed metadata (mtime 0,
uid/gid 0, mode 0600) and members sorted by path, so identical content gives identical bytes
and an unchanged state can be recognised by its sha256 alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import lzma
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple

MAGIC = b"ZGAUTH1"
CODEC_LZMA = b"x"
CODEC_ZLIB = b"z"
# Measured on whatsmeow-schema stores (docs/auth-state.md): key material is random, so every codec
# lands near 1.4-1.6x on a used store; lzma is ~5 % smaller but 15-30x slower (13 s vs 0.4 s on an
# 18 MB store), which would stall the save loop. lzma stays decodable for blobs written with it.
DEFAULT_CODEC = CODEC_ZLIB
LZMA_PRESET = 6
ZLIB_LEVEL = 6

# Below DynamoDB's 400 KB item limit with room for the key attributes and the item overhead.
DEFAULT_CHUNK_SIZE = 350_000

SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
# Files that only have meaning next to their database; the backup API reads through them.
SQLITE_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
# The wal-index is rewritten by readers too (read marks), so it says nothing about content.
FINGERPRINT_IGNORED_SUFFIXES = ("-shm",)

_RESTORE_TAG = ".restore-"
_OLD_TAG = ".old-"


class SnapshotError(Exception):
    """A blob that is not a snapshot this module wrote, or a directory that cannot be captured."""


class Fingerprint(NamedTuple):
    """Cheap "maybe changed" signal: a digest of (path, size, mtime, inode) of every file.

    `newest_mtime_ns` lets the caller treat a fingerprint as unreliable while a file was
    modified within the filesystem's timestamp granularity of taking it (a later write in the
    same tick with the same size would otherwise go unnoticed).
    """

    digest: str
    newest_mtime_ns: int
    taken_at_ns: int


# ---------------------------------------------------------------- helpers


def _iter_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Regular files under root as (posix relative path, path), sorted; symlinks are skipped.

    Symlinks are skipped because a restored link could point anywhere on the new host.
    """
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append((path.relative_to(root).as_posix(), path))
    found.sort(key=lambda pair: pair[0])
    return iter(found)


def _has_sqlite_header(path: Path) -> bool:
    # Opens (and closes) the file: call only where no SQLite holds locks on it (the staging child).
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def is_sqlite_file(path: Path) -> bool:
    """A database is recognised by its header, or by its suffix while its content is all in `-wal`.

    A new WAL-mode database keeps every page in `-wal` and leaves the main file empty until the
    first checkpoint, so an empty `whatsmeow.sqlite3` next to a `-wal` is a database too.
    """
    if _has_sqlite_header(path):
        return True
    if path.name.endswith(SQLITE_SUFFIXES):
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size == 0 and wal.exists() and wal.stat().st_size > 0
    return False


def _is_side_file(name: str, all_names: set[str]) -> bool:
    return any(name.endswith(suffix) and name[: -len(suffix)] in all_names for suffix in SQLITE_SIDE_SUFFIXES)


class _CompressingWriter(io.RawIOBase):
    """A write-only stream that compresses as tarfile writes, so the tar is never held uncompressed."""

    def __init__(self, codec: bytes) -> None:
        self._out = io.BytesIO()
        self._out.write(MAGIC + codec)
        if codec == CODEC_LZMA:
            self._compressor: lzma.LZMACompressor | zlib._Compress = lzma.LZMACompressor(
                format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=LZMA_PRESET
            )
        elif codec == CODEC_ZLIB:
            self._compressor = zlib.compressobj(ZLIB_LEVEL)
        else:
            raise ValueError(f"unknown codec {codec!r}")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._out.write(self._compressor.compress(bytes(data)))
        return len(data)

    def finish(self) -> bytes:
        self._out.write(self._compressor.flush())
        return self._out.getvalue()


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _backup_sqlite(source: Path, target: Path, busy_timeout_s: float) -> None:
    # A read-write connection, not mode=ro: a WAL database whose -shm is missing (after a crash)
    # can only be opened by a connection allowed to rebuild the wal-index.
    src = sqlite3.connect(str(source), timeout=busy_timeout_s, isolation_level=None)
    try:
        dst = sqlite3.connect(str(target), isolation_level=None)
        try:
            # pages=-1 copies everything in one step under one read transaction: one snapshot,
            # never pages from before and after a concurrent commit.
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def stage_dir(root: Path, scratch: Path, busy_timeout_s: float) -> list[tuple[str, str]]:
    """Copy the state under `root` into `scratch`; returns (member path, scratch file name), sorted.

    Runs in the child process (see the module docstring); SQLite files through the backup API,
    other regular files byte for byte.
    """
    files = list(_iter_files(root)) if root.is_dir() else []
    names = {rel for rel, _ in files}
    staged: list[tuple[str, str]] = []
    for index, (rel, file_path) in enumerate(files):
        if _is_side_file(rel, names):
            continue
        copy = scratch / f"m{index:06d}"
        try:
            if is_sqlite_file(file_path):
                _backup_sqlite(file_path, copy, busy_timeout_s)
            else:
                shutil.copyfile(file_path, copy, follow_symlinks=False)
        except FileNotFoundError:
            continue  # deleted while walking: it is not part of the state any more
        staged.append((rel, copy.name))
    return staged


def _stage_in_child(root: Path, scratch: Path, busy_timeout_s: float) -> list[tuple[str, str]]:
    # -I -S: no site, no environment, stdlib only; this file imports nothing else.
    command = [sys.executable, "-I", "-S", __file__, "--stage", str(root), str(scratch), str(busy_timeout_s)]
    try:
        result = subprocess.run(command, capture_output=True, timeout=busy_timeout_s + 600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SnapshotError("staging the auth directory timed out") from exc
    if result.returncode != 0:
        # The last traceback line names the error (a SQLite message, a path), never file content.
        reason = (result.stderr.decode(errors="replace").strip().splitlines() or ["unknown error"])[-1]
        raise SnapshotError(f"cannot stage the auth directory: {reason}")
    return [(str(rel), str(name)) for rel, name in json.loads(result.stdout)]


# ---------------------------------------------------------------- public API


def snapshot_dir(
    path: str | os.PathLike[str],
    *,
    codec: bytes = DEFAULT_CODEC,
    busy_timeout_s: float = 10.0,
    tmp_dir: str | os.PathLike[str] | None = None,
    in_child: bool = True,
) -> bytes:
    """A consistent compressed copy of every regular file under `path` (an absent dir = empty).

    SQLite databases go through a temporary backup file so peak memory stays near the compressed
    size, not the database size. `in_child=False` stages in this process: only safe where no
    other SQLite library has the files open (never next to a running neonize client).
    """
    root = Path(path)
    writer = _CompressingWriter(codec)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zg-snap-", dir=tmp_dir)))
        if in_child:
            staged = _stage_in_child(root, scratch, busy_timeout_s)
        else:
            try:
                staged = stage_dir(root, scratch, busy_timeout_s)
            except sqlite3.Error as exc:
                raise SnapshotError(f"cannot stage the auth directory: {exc}") from exc
        tar = stack.enter_context(
            tarfile.open(fileobj=writer, mode="w|", format=tarfile.GNU_FORMAT)
        )
        for rel, name in sorted(staged):
            # Private copies: their size cannot change between the header and the data.
            with (scratch / name).open("rb") as handle:
                tar.addfile(_tarinfo(rel, os.fstat(handle.fileno()).st_size), handle)
    return writer.finish()


def _decompress(blob: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) <= len(MAGIC):
        raise SnapshotError("not an auth-state snapshot")
    codec = blob[len(MAGIC) : len(MAGIC) + 1]
    payload = blob[len(MAGIC) + 1 :]
    try:
        if codec == CODEC_LZMA:
            return lzma.decompress(payload, format=lzma.FORMAT_XZ)
        if codec == CODEC_ZLIB:
            return zlib.decompress(payload)
    except (lzma.LZMAError, zlib.error) as exc:
        raise SnapshotError(f"corrupt snapshot: {exc}") from exc
    raise SnapshotError(f"unknown codec {codec!r}")


def list_snapshot(blob: bytes) -> dict[str, int]:
    """Member path → size; for diagnostics and tests (never the content)."""
    with tarfile.open(fileobj=io.BytesIO(_decompress(blob)), mode="r:") as tar:
        return {member.name: member.size for member in tar.getmembers()}


def _safe_member_path(root: Path, name: str) -> Path:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise SnapshotError(f"unsafe member path {name!r}")
    return root.joinpath(*pure.parts)


def _sweep_leftovers(target: Path) -> None:
    """Remove temp/old siblings a crash between the two renames of an earlier restore left behind."""
    parent = target.parent
    if not parent.is_dir():
        return
    for sibling in parent.iterdir():
        if sibling.name.startswith((f".{target.name}{_RESTORE_TAG}", f".{target.name}{_OLD_TAG}")):
            shutil.rmtree(sibling, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened for fsync
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def restore_dir(blob: bytes, path: str | os.PathLike[str]) -> None:
    """Replace the content of `path` with the snapshot, all or nothing.

    The snapshot is unpacked and fsynced in a sibling temp dir, then swapped in with two renames;
    a crash leaves either the old dir, or no dir plus siblings the next restore sweeps away,
    never a mix of old and new files. Must run while nothing has files in `path` open.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_leftovers(target)
    raw = _decompress(blob)
    staging = target.parent / f".{target.name}{_RESTORE_TAG}{uuid.uuid4().hex[:8]}"
    staging.mkdir(mode=0o700)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                if not member.isreg():
                    raise SnapshotError(f"unexpected member type for {member.name!r}")
                destination = _safe_member_path(staging, member.name)
                destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                source = tar.extractfile(member)
                assert source is not None  # a regular member always has a file object
                fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out)
                    out.flush()
                    os.fsync(out.fileno())
        _fsync_dir(staging)
        if target.exists():
            old = target.parent / f".{target.name}{_OLD_TAG}{uuid.uuid4().hex[:8]}"
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def clear_dir(path: str | os.PathLike[str]) -> None:
    """Empty `path` (kept as an empty dir), e.g. after a wipe."""
    target = Path(path)
    if target.exists():
        old = target.parent / f".{target.name}{_OLD_TAG}{uuid.uuid4().hex[:8]}"
        target.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)


def chunk(blob: bytes, size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """Split into pieces of at most `size` bytes; an empty blob is one empty chunk, never none."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    if not blob:
        return [b""]
    return [blob[offset : offset + size] for offset in range(0, len(blob), size)]


def join(chunks: list[bytes]) -> bytes:
    return b"".join(chunks)


def sha256_hex(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def fingerprint(path: str | os.PathLike[str]) -> Fingerprint:
    """stat() of every file (including `-wal`, excluding `-shm`); no file is opened or read.

    A WAL commit appends to `-wal` (size and mtime change) and a checkpoint rewrites the main
    file, so every committed change moves at least one of them.
    """
    root = Path(path)
    taken_at_ns = time.time_ns()
    digest = hashlib.sha256()
    newest = 0
    if root.is_dir():
        for rel, file_path in _iter_files(root):
            if rel.endswith(FINGERPRINT_IGNORED_SUFFIXES):
                continue
            try:
                st = file_path.stat()
            except FileNotFoundError:
                continue
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
            newest = max(newest, st.st_mtime_ns)
    return Fingerprint(digest.hexdigest(), newest, taken_at_ns)


def dir_has_files(path: str | os.PathLike[str]) -> bool:
    root = Path(path)
    return root.is_dir() and any(True for _ in _iter_files(root))


def _main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[1] != "--stage":
        sys.stderr.write("usage: snapshot.py --stage ROOT SCRATCH BUSY_TIMEOUT_S\n")
        return 2
    staged = stage_dir(Path(argv[2]), Path(argv[3]), float(argv[4]))
    sys.stdout.write(json.dumps(staged))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
