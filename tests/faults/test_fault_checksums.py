"""Fault injection: checksums that cannot be skipped (MVTec and cells archives placed by hand, torchvision weights)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from anoloc.data import cells, mvtec
from anoloc.data.weights import TORCHVISION_SHA256, TORCHVISION_WEIGHTS, expected_weights_sha256, fetch_weights
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mvtec_archive(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("mvtec") / "mvtec_anomaly_detection.tar.xz"
    mvtec.make_synthetic_archive(
        archive, classes=["grass"], n_train=2, n_test_good=1, n_test_per_defect=1, tile=32, defects=["hole"]
    )
    return archive


def test_mvtec_archive_with_a_wrong_checksum_is_not_extracted(tmp_path, mvtec_archive):
    wrong = "0" * 64
    with pytest.raises(AnolocError) as err:
        mvtec.extract_archive(mvtec_archive, tmp_path / "data", ["grass"], sha256=wrong)
    msg = str(err.value)
    assert str(mvtec_archive) in msg and wrong in msg and _sha256(mvtec_archive) in msg
    assert "mvtec.dataset.sha256" in msg and "delete it and rerun" in msg
    assert not (tmp_path / "data").exists()
    assert mvtec_archive.exists()  # a copy placed by hand is reported, not deleted


def test_mvtec_archive_with_the_right_checksum_is_extracted_and_validated(tmp_path, mvtec_archive):
    root, counts = mvtec.extract_archive(mvtec_archive, tmp_path / "data", ["grass"], sha256=_sha256(mvtec_archive))
    assert root == tmp_path / "data"
    assert counts == {"grass": {"n_train": 2, "n_test_good": 1, "n_test_anomalous": 1, "defects": {"hole": 1}}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary folder left


def test_mvtec_archive_without_the_configured_classes_leaves_nothing(tmp_path, mvtec_archive):
    with pytest.raises(AnolocError, match=r"does not contain the configured MVTec classes \['bottle'\]"):
        mvtec.extract_archive(mvtec_archive, tmp_path / "data", ["bottle"], sha256=_sha256(mvtec_archive))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------- cells archive
@pytest.fixture(scope="module")
def cells_archive(tmp_path_factory) -> tuple[Path, str]:
    """A zip shaped like GitHub's repository archive: <repo>-<commit>/fl_dataset/<split>/{raw,mask}/*.png."""
    base = tmp_path_factory.mktemp("cells")
    folder = cells.write_synthetic(base / "fl_dataset", {"healthy_train": 2, "healthy_test": 1, "infected": 1})
    listing = "".join(
        f"{hashlib.sha256((folder / f).read_bytes()).hexdigest()}  {f}\n"
        for f in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    )
    archive = base / "repo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, f"unsupervised_cells_supn-97e0b99/fl_dataset/{p.relative_to(folder).as_posix()}")
    return archive, hashlib.sha256(listing.encode()).hexdigest()


def test_cells_archive_checksum_and_content_hash(tmp_path, cells_archive):
    archive, content = cells_archive
    with pytest.raises(AnolocError) as err:
        cells.extract_dataset_archive(archive, tmp_path / "extracted", "f" * 64, content)
    msg = str(err.value)
    assert str(archive) in msg and "f" * 64 in msg and _sha256(archive) in msg and "archive_sha256" in msg
    assert not (tmp_path / "extracted").exists()

    with pytest.raises(AnolocError, match="not the published FL dataset") as err:
        cells.extract_dataset_archive(archive, tmp_path / "extracted", _sha256(archive), "e" * 64)
    assert str(archive) in str(err.value) and content in str(err.value)
    assert list(tmp_path.iterdir()) == []  # the unverified content was not kept

    root = cells.extract_dataset_archive(archive, tmp_path / "extracted", _sha256(archive), content)
    assert root == tmp_path / "extracted" / "unsupervised_cells_supn-97e0b99" / "fl_dataset"
    assert [len(s) for s in cells.load_folder(root).values()] == [2, 1, 1]


# ------------------------------------------------------------------------------------ torchvision weights
def test_known_torchvision_digests_match_their_file_names():
    for name, url in TORCHVISION_WEIGHTS.items():
        file_name = Path(url).name
        prefix = file_name.rsplit("-", 1)[1].removesuffix(".pth")
        assert TORCHVISION_SHA256[file_name].startswith(prefix), name
        assert len(TORCHVISION_SHA256[file_name]) == 64
        assert expected_weights_sha256(url) == (TORCHVISION_SHA256[file_name], None)
    assert expected_weights_sha256(TORCHVISION_WEIGHTS["resnet18"], "a" * 64) == ("a" * 64, None)  # config wins
    assert expected_weights_sha256("https://x/net-0123abcd.pth") == (None, "0123abcd")
    with pytest.raises(AnolocError, match="weights_sha256"):
        expected_weights_sha256("https://x/net.pth")


def test_torchvision_weights_need_the_full_digest(http_server, tmp_path):
    """A file served under the official name is refused unless its full SHA-256 matches (no prefix-only check)."""
    www, base = http_server
    name = Path(TORCHVISION_WEIGHTS["resnet18"]).name
    (www / name).write_bytes(os.urandom(1000))
    dest = tmp_path / "weights" / name
    dest.parent.mkdir()
    dest.write_bytes(b"placed by hand, wrong content")
    with pytest.raises(AnolocError, match="checksum mismatch") as err:
        fetch_weights(f"{base}/{name}", dest)
    assert TORCHVISION_SHA256[name] in str(err.value) and name in str(err.value)
    assert not dest.exists()  # the wrong file placed by hand was not reused, the wrong download was not kept
    payload = (www / name).read_bytes()
    assert fetch_weights(f"{base}/{name}", dest, sha256=hashlib.sha256(payload).hexdigest()).read_bytes() == payload
