"""A build's integrity: file sizes and checksums for the manifest, and one line for an OS error while writing."""

from __future__ import annotations

import errno
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import StorageError
from kb.records import FileDigest, Manifest

MANIFEST = "manifest.json"


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name the file in an OSError raised while writing it (numpy's short write gives no file name)."""
    try:
        yield
    except OSError as exc:
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc) or type(exc).__name__, str(path)) from exc


def storage_error(exc: OSError, root: Path) -> StorageError:
    """One line for an operating-system error while building: the path and what to do."""
    where = exc.filename or root
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC or (exc.errno is None and _nearly_full(root)):
        todo = "free some disk space, then run 'kb index' again"
        reason = "no space left on device" if exc.errno is None else reason
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        todo = "make the index folder writable, or choose another with --index or KB_INDEX"
    else:
        todo = "check the disk and the folder's permissions, then run 'kb index' again"
    return StorageError(f"cannot write the index: {where}: {reason}; {todo} (the live index is unchanged)")


def _nearly_full(root: Path) -> bool:
    try:
        return shutil.disk_usage(root).free < 1024 * 1024
    except OSError:
        return False


def file_digests(folder: Path) -> dict[str, FileDigest]:
    """Size and SHA-256 of every file in a build folder except the manifest, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST:
            out[rel] = FileDigest(path.stat().st_size, _sha256(path))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def damaged_files(folder: Path, manifest: Manifest, names: list[str] | None = None) -> list[str]:
    """The files of a build that are missing or differ from the manifest's size and checksum, each with why.

    names limits the check to files whose relative path is one of them or lies under one of them (a folder).
    A build written before the manifest listed its files has nothing to check against: none are reported.
    """
    problems = []
    for rel, info in manifest.files.items():
        if names is not None and not any(rel == n or rel.startswith(n + "/") for n in names):
            continue
        path = folder / rel
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{rel} is missing")
            continue
        if size != info.bytes:
            problems.append(f"{rel} is {size} bytes, the manifest says {info.bytes}")
        elif _sha256(path) != info.sha256:
            problems.append(f"{rel} does not match its checksum")
    return problems
