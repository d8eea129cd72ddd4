"""MVTec-format data: the offline texture stand-in, layout validation, archive download and safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from anoloc.data import mvtec
from anoloc.data.download import safe_extract
from anoloc.utils import AnolocError


@pytest.mark.parametrize("kind", mvtec.DEFECTS)
def test_defects_change_only_the_masked_pixels(kind):
    rng = np.random.default_rng(3)
    tile = mvtec.normal_tile(mvtec.texture("brick"), 96, rng)
    img, mask = mvtec.add_defect(tile, kind, rng)
    clean = np.clip(np.round(tile), 0, 255).astype(np.uint8)
    changed = img != clean
    assert img.dtype == np.uint8 and mask.dtype == bool and mask.shape == img.shape == (96, 96)
    assert mask.any() and mask.mean() < 0.2
    assert not (changed & ~mask).any()  # nothing outside the mask changed
    assert changed[mask].mean() > 0.9  # and (almost) every masked pixel did


def test_synthetic_archive_round_trip(tmp_path):
    archive = tmp_path / "synthetic.tar.xz"
    counts = mvtec.make_synthetic_archive(
        archive, classes=["grass"], n_train=3, n_test_good=2, n_test_per_defect=1, tile=64, defects=["hole", "scratch"]
    )
    assert counts == {
        "grass": {"n_train": 3, "n_test_good": 2, "n_test_anomalous": 2, "defects": {"hole": 1, "scratch": 1}}
    }
    with tarfile.open(archive) as tf:
        names = tf.getnames()
        assert all(m.mtime == 0 for m in tf.getmembers())  # reproducible archive
    assert "grass/ground_truth/hole/000_mask.png" in names and "readme.txt" in names
    root, counts2 = mvtec.extract_archive(archive, tmp_path / "data", ["grass"])
    assert root == tmp_path / "data" and counts2 == counts
    train, test = mvtec.class_split(root, "grass")
    assert [p.name for p in train] == ["000.png", "001.png", "002.png"]
    assert [t.name for t in test] == ["good/000", "good/001", "hole/000", "scratch/000"]
    assert [t.label for t in test] == [0, 0, 1, 1]
    img = mvtec.read_image(test[2].path)
    mask = mvtec.read_mask(test[2].mask_path, img.shape)
    assert img.shape == (64, 64) and img.dtype == np.uint8 and mask.any()
    assert not mvtec.read_mask(None, img.shape).any()
    assert mvtec.stack_rgb([img]).shape == (1, 64, 64, 3)


def test_layout_validation_names_the_problem(tmp_path):
    mvtec.write_synthetic(tmp_path / "d", classes=["gravel"], n_train=2, n_test_good=1, n_test_per_defect=1, tile=48)
    mask = tmp_path / "d" / "gravel" / "ground_truth" / "contrast" / "000_mask.png"
    mask.unlink()
    with pytest.raises(AnolocError, match=r"missing ground-truth mask .*000_mask\.png"):
        mvtec.validate_layout(tmp_path / "d", ["gravel"])
    with pytest.raises(AnolocError, match="not an MVTec AD class folder"):
        mvtec.class_split(tmp_path / "d", "bottle")
    with pytest.raises(AnolocError, match="does not contain the configured MVTec classes"):
        mvtec.find_root(tmp_path / "d", ["bottle"])
    nested = tmp_path / "n" / "mvtec_anomaly_detection" / "gravel"
    nested.mkdir(parents=True)
    assert mvtec.find_root(tmp_path / "n", ["gravel"]) == nested.parent


def _tar_with(tmp_path, name: str, member: tarfile.TarInfo, data: bytes = b"") -> str:
    path = tmp_path / name
    with tarfile.open(path, "w:xz") as tf:
        tf.addfile(member, io.BytesIO(data) if data else None)
    return path


def test_safe_extract_rejects_traversal_absolute_and_symlinks(tmp_path):
    evil = tarfile.TarInfo("../evil.txt")
    evil.size = 4
    with pytest.raises(AnolocError, match="outside the target folder"):
        safe_extract(_tar_with(tmp_path, "a.tar.xz", evil, b"evil"), tmp_path / "out")
    absolute = tarfile.TarInfo("/tmp/evil.txt")
    absolute.size = 4
    with pytest.raises(AnolocError, match="outside the target folder"):
        safe_extract(_tar_with(tmp_path, "b.tar.xz", absolute, b"evil"), tmp_path / "out")
    link = tarfile.TarInfo("bottle/link")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    with pytest.raises(AnolocError, match="leaves the target folder"):
        safe_extract(_tar_with(tmp_path, "c.tar.xz", link), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "bottle" / "link").exists()


def test_archive_download_checks_sha256(http_server, tmp_path):
    folder, base = http_server
    payload = b"\xfd7zXZ" + bytes(range(256)) * 50
    (folder / "mvtec_anomaly_detection.tar.xz").write_bytes(payload)
    url = f"{base}/mvtec_anomaly_detection.tar.xz"
    good = hashlib.sha256(payload).hexdigest()

    dest = mvtec.download_archive(url, tmp_path / "a" / "mvtec.tar.xz", good)
    assert dest.read_bytes() == payload

    bad_dest = tmp_path / "b" / "mvtec.tar.xz"
    with pytest.raises(AnolocError, match=f"checksum mismatch .*expected sha256 {'0' * 64}"):
        mvtec.download_archive(url, bad_dest, "0" * 64)
    assert not bad_dest.exists() and list(bad_dest.parent.iterdir()) == []  # no partial file left
    with pytest.raises(AnolocError, match="could not download"):
        mvtec.download_archive(f"{base}/missing.tar.xz", tmp_path / "c.tar.xz", good)
