"""Downloads with checksums and safe archive extraction (shared by every dataset)."""

from __future__ import annotations

import logging
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from anoloc.utils import AnolocError, PathLike, atomic_path, sha256sum

log = logging.getLogger(__name__)


def verify_sha256(path: PathLike, expected: str | None, name: str | None = None) -> str:
    """Return the file's SHA-256; raise `AnolocError` naming the file if it differs from `expected`."""
    actual = sha256sum(path)
    if expected and actual.lower() != expected.lower():
        raise AnolocError(
            f"checksum mismatch for {name or path}: expected sha256 {expected}, got {actual}. "
            "The file is corrupt or not the expected release; it has been removed, run the rule again "
            "(or fix the `sha256` in the config if the upstream file really changed)."
        )
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


def _check_member_name(name: str, archive: PathLike) -> None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")):
        raise AnolocError(f"refusing to extract {archive}: member {name!r} points outside the target folder")


def safe_extract(archive: PathLike, dest: PathLike) -> Path:
    """Extract a tar(.gz/.xz/.bz2) or zip archive into `dest`, refusing unsafe members.

    Absolute paths, `..` components and links that point outside `dest` are rejected before
    anything is written; tar archives are additionally extracted with the `data` filter.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member_name(info.filename, archive)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise AnolocError(f"refusing to extract {archive}: member {info.filename!r} is a symlink")
            zf.extractall(dest)
        return dest
    if not tarfile.is_tarfile(archive):
        raise AnolocError(f"{archive} is not a readable tar or zip archive; delete it and rerun")
    with tarfile.open(archive) as tf:
        root = dest.resolve()
        for m in tf.getmembers():
            _check_member_name(m.name, archive)
            if m.issym() or m.islnk():
                target = (root / PurePosixPath(m.name).parent / m.linkname).resolve()
                if m.linkname.startswith("/") or not target.is_relative_to(root):
                    raise AnolocError(
                        f"refusing to extract {archive}: link {m.name!r} -> {m.linkname!r} leaves the target folder"
                    )
            elif not (m.isfile() or m.isdir()):
                raise AnolocError(f"refusing to extract {archive}: member {m.name!r} is a special file")
        try:
            tf.extractall(dest, filter="data")
        except tarfile.TarError as exc:
            raise AnolocError(f"unsafe or corrupt archive {archive}: {exc}") from exc
    return dest
