"""Downloads with checksums and safe archive extraction (shared by every dataset).

Extraction policy (`safe_extract`): the data sets we unpack (MVTec AD, the FL cells archive) hold only regular
files and folders, so an archive member that is a symbolic or hard link, a device, a FIFO or any other special
file, or whose name is absolute or contains `..`, is refused, for tar and zip alike, before anything is
written. (Resolving links against the destination is not enough: a chain of links is checked without the
links that precede it, and Python 3.11 before 3.11.13 has a known `tarfile` `filter="data"` bypass with long
symlink chains.) The archive is unpacked into a temporary folder beside the destination and moved into place
only when it is complete and checked; on any error nothing of it remains.
"""

from __future__ import annotations

import errno
import logging
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from anoloc.io import disk_full_guard, disk_full_message, is_disk_full
from anoloc.utils import AnolocError, PathLike, atomic_path, sha256sum

log = logging.getLogger(__name__)


DOWNLOAD_HINT = (
    "The file is corrupt or not the expected release; it has been removed, run the rule again "
    "(or fix the `sha256` in the config if the upstream file really changed)."
)


def verify_sha256(path: PathLike, expected: str | None, name: str | None = None, hint: str = DOWNLOAD_HINT) -> str:
    """Return the file's SHA-256; raise `AnolocError` naming the file, both digests and `hint` if it differs."""
    actual = sha256sum(path)
    if expected and actual.lower() != expected.lower():
        raise AnolocError(f"checksum mismatch for {name or path}: expected sha256 {expected}, got {actual}. {hint}")
    return actual


def download_file(url: str, dest: PathLike, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` atomically and check its SHA-256.

    An existing `dest` with the right checksum is reused. A failed or mismatching download
    leaves nothing at `dest`.
    """
    dest = Path(dest)
    if dest.exists() and sha256:
        try:
            verify_sha256(dest, sha256)
            log.info("reusing %s (checksum ok)", dest)
            return dest
        except AnolocError:
            log.warning("existing %s has a wrong checksum; downloading again", dest)
            dest.unlink()
    log.info("downloading %s -> %s", url, dest)
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out, length=1 << 20)
            verify_sha256(tmp, sha256, name=f"{dest} (downloaded from {url})")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise AnolocError(
            f"could not download {url} to {dest}: {exc}. Check the URL in the config and your network, "
            "or place the file at that path yourself."
        ) from exc
    return dest


# ------------------------------------------------------------------------------------- safe extraction
# what a truncated or bit-flipped archive raises while it is read (tar/gzip/bz2/xz/zip)
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, lzma.LZMAError, zlib.error, OSError, ValueError)
_ZIP_FILE_TYPES = {0, stat.S_IFREG, stat.S_IFDIR}  # 0: no Unix mode recorded (e.g. zips written on Windows)
_DRIVE = re.compile(r"[A-Za-z]:")  # a Windows drive prefix (C:\x, C:x)


@dataclass(frozen=True)
class Member:
    """One archive entry as the checks see it: name, kind (file, dir, symlink, hardlink, special) and size."""

    name: str
    kind: str
    size: int = 0
    link: str = ""


def _refuse(archive: Path, member: str, why: str) -> AnolocError:
    return AnolocError(
        f"refusing to extract {archive}: member {member!r} {why}. Nothing was extracted. The data sets this "
        "workflow unpacks contain only regular files and folders: this archive is damaged or not the expected "
        "one — delete it and fetch the original again."
    )


def _corrupt_archive(archive: Path, exc: BaseException) -> AnolocError:
    return AnolocError(
        f"{archive} is truncated or corrupt ({type(exc).__name__}: {exc}); nothing was extracted. Delete it and "
        "rerun (the download rule fetches it again), or copy it again from the original source."
    )


def check_member(archive: Path, m: Member) -> None:
    """Raise `AnolocError` unless `m` is a regular file or folder with a relative name free of `..`."""
    if m.kind in ("symlink", "hardlink"):
        raise _refuse(
            archive,
            m.name,
            f"is a {m.kind} to {m.link!r}; links are refused (a link leaves the target folder or lets a later member "
            "write through it)",
        )
    if m.kind not in ("file", "dir"):
        raise _refuse(archive, m.name, f"is a {m.kind}, not a regular file or folder")
    parts = PurePosixPath(m.name.replace("\\", "/")).parts
    if not m.name or m.name.startswith(("/", "\\")) or _DRIVE.match(m.name) or ".." in parts:
        raise _refuse(archive, m.name, "points outside the target folder (absolute path or '..')")


def _tar_kind(m: tarfile.TarInfo) -> str:
    if m.issym():
        return "symlink"
    if m.islnk():
        return "hardlink"
    if m.isfile():
        return "file"
    if m.isdir():
        return "dir"
    return {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}.get(
        m.type, f"special file (tar type {m.type!r})"
    )


def _zip_kind(info: zipfile.ZipInfo) -> str:
    ftype = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if ftype == stat.S_IFLNK:
        return "symlink"
    if ftype not in _ZIP_FILE_TYPES:
        return f"special file (mode {oct(ftype)})"
    return "dir" if info.is_dir() else "file"


def archive_members(archive: PathLike) -> list[Member]:
    """Every entry of a tar(.gz/.bz2/.xz) or zip archive (reads the whole archive; corrupt → `AnolocError`)."""
    archive = Path(archive)
    if not archive.is_file():
        raise AnolocError(f"archive {archive} does not exist; run its download rule or place the file there")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return [Member(i.filename, _zip_kind(i), i.file_size) for i in zf.infolist()]
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                return [Member(m.name, _tar_kind(m), m.size, m.linkname) for m in tf.getmembers()]
    except _CORRUPT as exc:
        raise _corrupt_archive(archive, exc) from exc
    raise AnolocError(
        f"{archive} is not a readable tar or zip archive (truncated, corrupt or another format); delete it and rerun"
    )


def _check_space(archive: Path, dest: Path, members: list[Member]) -> None:
    need = sum(m.size for m in members if m.kind == "file")
    free = shutil.disk_usage(dest.parent).free
    if need > free:
        exc = OSError(errno.ENOSPC, f"{need / 1e9:.3g} GB needed to unpack {archive}, {free / 1e9:.3g} GB free")
        raise AnolocError(disk_full_message(dest, exc, "extract into"))


def _unpack(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")  # second line of defence after `check_member`


def safe_extract(
    archive: PathLike,
    dest: PathLike,
    sha256: str | None = None,
    check: Callable[[Path], None] | None = None,
    hint: str = "",
) -> Path:
    """Extract a tar(.gz/.bz2/.xz) or zip archive so that `dest` holds exactly its contents; return `dest`.

    1. with `sha256`, the archive's SHA-256 is verified first (mismatch: `AnolocError` with both digests and
       `hint`, i.e. what to do);
    2. every member is checked (`check_member`: regular files and folders with safe relative names only) and
       the free space compared with the unpacked size, before anything is written;
    3. the archive is unpacked into a temporary folder beside `dest`, `check(folder)` (if given) validates it,
       and only then does it replace `dest` (a previous `dest` stays untouched until this point).
    On any error (hostile member, corrupt archive, full disk, failed check) nothing of the archive remains.
    """
    archive, dest = Path(archive), Path(dest)
    if sha256:
        verify_sha256(archive, sha256, hint=hint or "Delete it and rerun so that it is fetched again.")
    members = archive_members(archive)
    for m in members:
        check_member(archive, m)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_space(archive, dest, members)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extracting-", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        tmp.chmod(0o777 & ~umask)  # mkdtemp creates 0700; give the final folder the usual permissions
        with disk_full_guard(dest, "extract into"):
            try:
                _unpack(archive, tmp)
            except _CORRUPT as exc:
                if is_disk_full(exc):
                    raise
                raise _corrupt_archive(archive, exc) from exc
        if check is not None:
            check(tmp)
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.replace(old / "previous")
            try:
                tmp.replace(dest)
            except BaseException:
                (old / "previous").replace(dest)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.replace(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("extracted %s -> %s (%d members)", archive, dest, len(members))
    return dest
