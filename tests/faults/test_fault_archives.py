"""Fault injection: hostile, truncated and corrupt archives, and a full disk while extracting.

Every hostile archive is built here. Each test asserts what the user sees (an `AnolocError` naming the archive and
the member), that nothing was written outside the destination (a file outside stays as it was), and that the
destination does not exist afterwards (or, when it existed, is unchanged).
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from anoloc.data import download
from anoloc.data.download import safe_extract
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (links not followed) → file bytes (None for folders and links)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            out[str(p.relative_to(root))] = p.read_bytes() if p.is_file() and not p.is_symlink() else None
    return out


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, type_: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = type_, link
    return info


def _symlink_chain_archive(path: Path) -> Path:
    """The shape of the published `filter="data"` bypass (CVE-2025-4517, Python < 3.11.13): directories with
    247-character names reached through one-letter symlinks, so that `os.path.realpath` gives up (PATH_MAX)
    before the final link, which then leads one level above the destination; a hard link through it and a
    regular member with the same name overwrite `victim.txt` beside the destination."""
    comp, steps, prefix, members = "d" * 247, "abcdefghijklmnop", "", []
    for s in steps:
        members.append((_info(os.path.join(prefix, comp), tarfile.DIRTYPE), None))
        members.append((_info(os.path.join(prefix, s), tarfile.SYMTYPE, comp), None))
        prefix = os.path.join(prefix, comp)
    deep = os.path.join(*steps, "l" * 254)
    members.append((_info(deep, tarfile.SYMTYPE, "../" * len(steps)), None))
    members.append((_info("escape", tarfile.SYMTYPE, deep + "/.."), None))
    members.append((_info("flaglink", tarfile.LNKTYPE, "escape/victim.txt"), None))
    members.append((_info("flaglink"), b"overwritten\n"))
    return _tar(path, members)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding a file that no extraction may touch; the destination is `site / "out"`."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "victim.txt").write_text("original\n")
    return site


def _assert_refused(archive: Path, site: Path, member: str, match: str) -> None:
    before = _tree(site)
    with pytest.raises(AnolocError, match=match) as err:
        safe_extract(archive, site / "out")
    msg = str(err.value)
    assert str(archive) in msg and repr(member) in msg and "Nothing was extracted" in msg
    assert _tree(site) == before  # nothing written anywhere: no destination, no temporary folder
    assert not (site / "out").exists()


def test_symlink_chain_bypass_is_refused_before_writing(tmp_path, site):
    archive = _symlink_chain_archive(tmp_path / "chain.tar")
    _assert_refused(archive, site, "a", "is a symlink")
    assert (site / "victim.txt").read_text() == "original\n"


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (_info("data/link", tarfile.SYMTYPE, "../../outside"), "is a symlink to '../../outside'"),
        (_info("data/inner", tarfile.SYMTYPE, "sibling.txt"), "is a symlink"),  # even a harmless-looking one
        (_info("data/hard", tarfile.LNKTYPE, "data/a.txt"), "is a hardlink to 'data/a.txt'"),
        (_info("data/tty", tarfile.CHRTYPE), "is a character device"),
        (_info("data/disk", tarfile.BLKTYPE), "is a block device"),
        (_info("data/pipe", tarfile.FIFOTYPE), "is a FIFO"),
        (_info("/tmp/anoloc_absolute.txt"), "absolute path or '..'"),
        (_info("data/../../escape.txt"), "absolute path or '..'"),
        (_info("..\\escape.txt"), "absolute path or '..'"),
        (_info("C:\\escape.txt"), "absolute path or '..'"),
    ],
    ids=[
        "symlink-out",
        "symlink-in",
        "hardlink",
        "chardev",
        "blockdev",
        "fifo",
        "absolute",
        "dotdot",
        "backslash",
        "drive",
    ],
)
@pytest.mark.parametrize("compression", ["", "xz"])
def test_tar_member_refused(tmp_path, site, member, match, compression):
    data = b"payload" if member.type == tarfile.REGTYPE else None
    # benign members first: the hostile one is found before anything at all is written
    members = [(_info("data/a.txt"), b"a"), (_info("data/b.txt"), b"b"), (member, data)]
    archive = _tar(tmp_path / f"hostile.tar{'.' + compression if compression else ''}", members, f"w:{compression}")
    _assert_refused(archive, site, member.name, match)
    assert not Path("/tmp/anoloc_absolute.txt").exists()


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _zip_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system, info.external_attr = 3, mode << 16
    return info


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (zipfile.ZipInfo("../escape.txt"), "absolute path or '..'"),
        (zipfile.ZipInfo("data/../../escape.txt"), "absolute path or '..'"),
        (zipfile.ZipInfo("/abs/escape.txt"), "absolute path or '..'"),
        (_zip_info("data/link", stat.S_IFLNK | 0o777), "is a symlink"),
        (_zip_info("data/pipe", stat.S_IFIFO | 0o644), "is a special file"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "fifo"],
)
def test_zip_member_refused(tmp_path, site, entry, match):
    archive = _zip(tmp_path / "hostile.zip", [("data/a.txt", b"a"), (entry, b"../../victim.txt")])
    _assert_refused(archive, site, entry.filename, match)


def _truncated(path: Path) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _bit_flipped(path: Path) -> Path:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    return path


def _good_tar_xz(path: Path) -> Path:
    payload = os.urandom(50_000)  # incompressible, so that the middle of the file is compressed data
    return _tar(path, [(_info(f"data/{i}.bin"), payload) for i in range(3)], "w:xz")


def _good_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("data/a.bin", os.urandom(50_000))
    return path


@pytest.mark.parametrize(
    ("make", "damage"),
    [
        (_good_tar_xz, _truncated),
        (_good_tar_xz, _bit_flipped),
        (_good_zip, _truncated),
        (_good_zip, _bit_flipped),
    ],
    ids=["tar.xz-truncated", "tar.xz-bitflip", "zip-truncated", "zip-bitflip"],
)
def test_corrupt_archive_is_a_clear_error_and_keeps_the_previous_extraction(tmp_path, site, make, damage):
    suffix = ".tar.xz" if make is _good_tar_xz else ".zip"
    archive = damage(make(tmp_path / f"data{suffix}"))
    (site / "out").mkdir()
    (site / "out" / "earlier.txt").write_text("earlier result\n")
    before = _tree(site)
    with pytest.raises(AnolocError) as err:
        safe_extract(archive, site / "out")
    msg = str(err.value)
    assert str(archive) in msg
    assert ("truncated or corrupt" in msg or "not a readable tar or zip archive" in msg) and "rerun" in msg
    assert _tree(site) == before  # the earlier extraction is intact, no temporary folder is left


def test_not_an_archive_and_missing_archive(tmp_path, site):
    junk = tmp_path / "junk.tar.xz"
    junk.write_bytes(b"<html>proxy error</html>")
    with pytest.raises(AnolocError, match=r"junk\.tar\.xz is not a readable tar or zip archive"):
        safe_extract(junk, site / "out")
    with pytest.raises(AnolocError, match=r"missing\.zip does not exist"):
        safe_extract(tmp_path / "missing.zip", site / "out")
    assert not (site / "out").exists()


def test_too_little_free_space_is_refused_before_writing(tmp_path, site, monkeypatch):
    archive = _good_tar_xz(tmp_path / "data.tar.xz")

    class Usage:
        free = 1000  # bytes; the archive unpacks to 150 kB

    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: Usage)
    before = _tree(site)
    with pytest.raises(AnolocError, match="disk is full") as err:
        safe_extract(archive, site / "out")
    assert str(site / "out") in str(err.value) and "Free some space" in str(err.value)
    assert _tree(site) == before


def test_disk_full_during_extraction_removes_the_partial_folder(tmp_path, site, monkeypatch):
    archive = _good_tar_xz(tmp_path / "data.tar.xz")

    def fill_then_fail(archive: Path, into: Path) -> None:
        (into / "data").mkdir()
        (into / "data" / "0.bin").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download, "_unpack", fill_then_fail)
    before = _tree(site)
    with pytest.raises(AnolocError, match="disk is full") as err:
        safe_extract(archive, site / "out")
    assert str(site / "out") in str(err.value)
    assert _tree(site) == before


def test_failed_check_leaves_no_destination_and_success_replaces_it(tmp_path, site):
    archive = _tar(tmp_path / "ok.tar.xz", [(_info("data/a.txt"), b"new")], "w:xz")
    (site / "out").mkdir()
    (site / "out" / "old.txt").write_text("old")
    before = _tree(site)

    def reject(folder: Path) -> None:
        assert (folder / "data" / "a.txt").read_bytes() == b"new"  # the check sees the complete extraction
        raise AnolocError("layout check failed")

    with pytest.raises(AnolocError, match="layout check failed"):
        safe_extract(archive, site / "out", check=reject)
    assert _tree(site) == before
    assert safe_extract(archive, site / "out") == site / "out"
    assert _tree(site / "out") == {"data": None, "data/a.txt": b"new"}  # replaced as a whole, no stale old.txt
    assert sorted(p.name for p in site.iterdir()) == ["out", "victim.txt"]  # no temporary folders left


def test_extracted_folder_has_the_usual_permissions(tmp_path):
    archive = _tar(tmp_path / "ok.tar", [(_info("a.txt"), b"a")])
    umask = os.umask(0o022)
    try:
        safe_extract(archive, tmp_path / "out")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755  # not mkdtemp's 0700
