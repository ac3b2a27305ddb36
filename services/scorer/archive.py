"""Safe extraction of a code package (zip or tar): regular files and directories only, inside the target,
within a size budget. Nothing here trusts the archive's own description of itself.

Refused: absolute paths, `..` components, backslashes, symlinks and hard links, device files, FIFOs,
duplicate entries, more than `max_files` entries, more than `max_total_bytes` uncompressed (counted while
decompressing, not taken from headers), and compression ratios above `max_ratio` (zip bombs).
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from services.scorer.errors import ScoringFailed

MIB = 1024 * 1024
CHUNK = 1 * MIB
RATIO_FLOOR = 1 * MIB  # small files compress absurdly well (a page of zeros); judge ratios only above this


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int = 256 * MIB
    max_files: int = 10_000
    max_ratio: float = 100.0


def unsafe(reason: str) -> ScoringFailed:
    return ScoringFailed("unsafe_archive", f"The package was refused: {reason}.")


def _safe_name(name: str) -> PurePosixPath:
    if not name or "\0" in name or "\\" in name:
        raise unsafe(f"entry {name!r} has a name that is not a plain relative path")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise unsafe(f"entry {name!r} is an absolute path")
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise unsafe(f"entry {name!r} climbs out of the package with '..'")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise unsafe(f"entry {name!r} has no name")
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, limits: ArchiveLimits, archive_bytes: int) -> None:
        self.limits = limits
        self.archive_bytes = max(archive_bytes, 1)
        self.total = 0
        self.files = 0

    def entry(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise unsafe(f"it has more than {self.limits.max_files:,} entries")

    def add(self, size: int) -> None:
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise unsafe(f"it unpacks to more than {self.limits.max_total_bytes:,} bytes")
        if self.total > RATIO_FLOOR and self.total / self.archive_bytes > self.limits.max_ratio:
            raise unsafe(f"it expands more than {self.limits.max_ratio:g} times (a zip bomb?)")


def _write(dest: Path, name: PurePosixPath, source: IO[bytes], budget: _Budget, declared: int) -> None:
    target = dest.joinpath(*name.parts)
    _make_dirs(dest, name.parent)
    try:
        # O_EXCL: a second entry of the same name is refused; O_NOFOLLOW: nothing we did not make is followed.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise unsafe(f"entry {str(name)!r} appears twice") from None
    except OSError as error:
        raise unsafe(f"entry {str(name)!r} cannot be written ({error.strerror})") from None
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > declared:
                raise unsafe(f"entry {str(name)!r} holds more than its header says")
            budget.add(len(chunk))
            out.write(chunk)
    os.chmod(target, 0o644)  # the sandbox's uid reads the package


def _make_dirs(dest: Path, relative: PurePosixPath) -> None:
    current = dest
    for part in relative.parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise unsafe(f"{part!r} is both a file and a directory")
        if not current.exists():
            current.mkdir(mode=0o755)
            current.chmod(0o755)  # the sandbox's uid traverses it


def archive_extract(*, archive: Path, dest: Path, limits: ArchiveLimits | None = None) -> list[str]:
    """Extract `archive` (zip, tar, tar.gz/bz2/xz) into the empty directory `dest`; returns the file names.

    Raises ScoringFailed("unsafe_archive" or "not_an_archive") with the reason.
    """
    limits = limits or ArchiveLimits()
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)  # the sandbox's uid reads the package
    budget = _Budget(limits, archive.stat().st_size)
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, dest, budget)
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, dest, budget)
    raise ScoringFailed("not_an_archive", "The package is neither a zip nor a tar archive.")


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> list[str]:
    names = []
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            declared_total = 0
            for info in infos:  # every header is checked before a byte is written
                budget.entry()
                _safe_name(info.filename)
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0: written without Unix file type bits
                if kind == stat.S_IFLNK:
                    raise unsafe(f"entry {info.filename!r} is a symbolic link")
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise unsafe(f"entry {info.filename!r} is a device, FIFO or socket")
                declared_total += info.file_size
                if declared_total > budget.limits.max_total_bytes:
                    raise unsafe(f"it unpacks to more than {budget.limits.max_total_bytes:,} bytes")
                if info.file_size > RATIO_FLOOR and info.file_size > budget.limits.max_ratio * max(
                    info.compress_size, 1
                ):
                    raise unsafe(
                        f"entry {info.filename!r} expands more than {budget.limits.max_ratio:g} times (a zip bomb?)"
                    )
            for info in infos:
                name = _safe_name(info.filename)
                if info.is_dir():
                    _make_dirs(dest, name)
                    continue
                with zf.open(info) as source:
                    _write(dest, name, source, budget, info.file_size)
                names.append(str(name))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise ScoringFailed("not_an_archive", f"The zip archive is damaged: {error}") from None
    return names


@contextmanager
def _open_tar(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, mode="r:*") as tf:
            yield tf
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ScoringFailed("not_an_archive", f"The tar archive is damaged: {error}") from None


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> list[str]:
    names = []
    with _open_tar(archive) as tf:
        # Streamed: headers are read as we go, so a bomb is stopped by the byte budget, not after listing it.
        for member in tf:
            budget.entry()
            name = _safe_name(member.name)
            if member.issym() or member.islnk():
                raise unsafe(f"entry {member.name!r} is a link")
            if member.isdir():
                _make_dirs(dest, name)
                continue
            if not member.isreg():
                raise unsafe(f"entry {member.name!r} is a device, FIFO or other special file")
            if member.size > budget.limits.max_total_bytes:
                raise unsafe(f"it unpacks to more than {budget.limits.max_total_bytes:,} bytes")
            source = tf.extractfile(member)
            assert source is not None
            with source:
                _write(dest, name, source, budget, member.size)
            names.append(str(name))
    return names
