"""The FL cell dataset: layout validation, content hash, synthetic generator, download, prepared .npz."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from anoloc.data import cells
from anoloc.utils import AnolocError
from tests.helpers import ROOT, section

PUBLISHED = section("cells", "data")  # the published FL dataset: counts and content hash (schema defaults)

SMALL = {"healthy_train": 4, "healthy_test": 3, "infected": 2}


@pytest.fixture
def folder(tmp_path):
    return cells.write_synthetic(tmp_path / "fl", SMALL, seed=1)


def test_synthetic_folder_has_the_real_format(folder):
    for split, n in SMALL.items():
        names = sorted(p.name for p in (folder / split / "raw").iterdir())
        assert names == [f"{i:05d}.png" for i in range(n)]
        for name in names:
            with Image.open(folder / split / "raw" / name) as im:
                assert (im.mode, im.size) == ("L", (128, 128))
                a = np.asarray(im)
            assert (a.min(), a.max()) == (0, 254)  # min–max stretched like the real crops
            with Image.open(folder / split / "mask" / name) as im:
                assert set(np.unique(np.asarray(im))) == {0, 254}


def test_synthetic_cells_look_like_the_real_ones():
    rng = np.random.default_rng(0)
    healthy = [cells.synthetic_cell(rng, infected=False) for _ in range(40)]
    infected = [cells.synthetic_cell(rng, infected=True) for _ in range(40)]
    coverage = np.mean([m.mean() for _, m in healthy + infected])
    assert 0.19 < coverage < 0.27  # real: 22–23 % of the pixels
    for img, mask in healthy:
        assert mask[64, 64] and img[mask].mean() > img[~mask].mean()  # a bright central cell
    # puncta: the brightest pixel of an infected crop sits inside the cell, far above the cell's median
    assert np.mean([img[mask].max() - np.median(img[mask]) for img, mask in infected]) > 1.5 * np.mean(
        [img[mask].max() - np.median(img[mask]) for img, mask in healthy]
    )


def test_load_folder_reads_and_validates(folder):
    splits = cells.load_folder(folder, SMALL)
    assert {k: len(v) for k, v in splits.items()} == SMALL
    s = splits["healthy_test"]
    assert s.images.dtype == np.uint8 and s.masks.dtype == bool and s.images.shape == (3, 128, 128)
    with Image.open(folder / "healthy_test" / "raw" / "00001.png") as im:
        np.testing.assert_array_equal(s.images[1], np.asarray(im))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "infected" / "mask" / "00001.png").unlink(), r"infected/raw/00001\.png has no mask"),
        (lambda f: (f / "healthy_train" / "raw" / "00002.png").unlink(), r"healthy_train/mask/00002\.png has no image"),
        (
            lambda f: Image.new("L", (128, 100)).save(f / "healthy_test" / "raw" / "00000.png"),
            r"healthy_test/raw/00000\.png: size 128×100",
        ),
        (
            lambda f: Image.new("RGB", (128, 128)).save(f / "healthy_test" / "mask" / "00002.png"),
            r"healthy_test/mask/00002\.png: PIL mode 'RGB'",
        ),
        (
            lambda f: Image.new("I;16", (128, 128)).save(f / "infected" / "raw" / "00000.png"),
            r"infected/raw/00000\.png: PIL mode 'I;16'",
        ),
        (lambda f: (f / "infected" / "raw" / "notes.txt").write_text("x"), r"infected/raw/notes\.txt: unexpected"),
        (
            lambda f: (f / "infected" / "raw" / "00000.png").write_bytes(b"junk"),
            r"infected/raw/00000\.png: cannot read",
        ),
    ],
)
def test_layout_errors_name_the_offending_file(folder, damage, message):
    damage(folder)
    with pytest.raises(AnolocError, match=message):
        cells.load_folder(folder)


def test_count_and_missing_split_errors(folder, tmp_path):
    with pytest.raises(AnolocError, match=r"healthy_train: 4 image/mask pairs, expected 1315"):
        cells.load_folder(folder, PUBLISHED["counts"])
    with pytest.raises(AnolocError, match="does not exist"):
        cells.load_folder(tmp_path / "nowhere")
    import shutil

    shutil.rmtree(folder / "infected" / "mask")
    with pytest.raises(AnolocError, match=r"infected/mask is missing"):
        cells.load_folder(folder)


def test_content_hash_is_the_sha256sum_listing(folder):
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))
    listing = "".join(f"{hashlib.sha256((folder / f).read_bytes()).hexdigest()}  {f}\n" for f in files)
    digest = cells.content_sha256(folder)
    assert digest == hashlib.sha256(listing.encode()).hexdigest()
    (folder / "README.txt").write_text("not part of the dataset")
    assert cells.content_sha256(folder) == digest
    Image.new("L", (128, 128)).save(folder / "infected" / "raw" / "00000.png")
    assert cells.content_sha256(folder) != digest


def test_prepared_roundtrip(folder, tmp_path):
    cfg = section("cells", "data", source="path", path=str(folder), counts=SMALL)
    splits = cells.prepare(cfg, tmp_path / "cache", tmp_path / "cells.npz")
    back = cells.load_prepared(tmp_path / "cells.npz")
    for s in cells.SPLITS:
        np.testing.assert_array_equal(back[s].images, splits[s].images)
        np.testing.assert_array_equal(back[s].masks, splits[s].masks)
        assert back[s].names == splits[s].names and isinstance(back[s].names[0], str)
    with pytest.raises(AnolocError, match="not a prepared cells dataset"):
        cells.load_prepared(tmp_path / "cache" / "missing.npz")


def test_synthetic_source_is_deterministic(tmp_path):
    cfg = section("cells", "data", source="synthetic", counts=SMALL, synthetic_seed=3)
    a = cells.prepare(cfg, tmp_path / "a", tmp_path / "a.npz")
    b = cells.prepare(cfg, tmp_path / "b", tmp_path / "b.npz")
    np.testing.assert_array_equal(a["infected"].images, b["infected"].images)
    assert not np.array_equal(a["healthy_test"].images[:2], a["infected"].images[:2])


def _zip_dataset(folder: Path, prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{prefix}/README.md", "the authors' repository")
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, f"{prefix}/fl_dataset/{p.relative_to(folder)}")
    return buf.getvalue()


def test_download_source_verifies_the_content_hash(folder, tmp_path, http_server):
    www, base = http_server
    archive = _zip_dataset(folder, "unsupervised_cells_supn-97e0b99")
    (www / "repo.zip").write_bytes(archive)
    good = cells.content_sha256(folder)
    cfg = section(
        "cells",
        "data",
        source="download",
        url=f"{base}/repo.zip",
        archive_sha256=hashlib.sha256(archive).hexdigest(),
        content_sha256=good,
        counts=SMALL,
    )
    splits = cells.prepare(cfg, tmp_path / "cache", tmp_path / "cells.npz")
    assert splits["healthy_train"].names == ["00000.png", "00001.png", "00002.png", "00003.png"]
    with pytest.raises(AnolocError, match=r"content hash .* expected 0{64}"):
        cells.prepare({**cfg, "content_sha256": "0" * 64}, tmp_path / "cache2", tmp_path / "x.npz")
    with pytest.raises(AnolocError, match="checksum mismatch"):
        cells.prepare({**cfg, "archive_sha256": "1" * 64}, tmp_path / "cache3", tmp_path / "y.npz")
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()


def test_real_dataset_matches_the_published_hash(fl_dataset):
    splits = cells.load_folder(fl_dataset, PUBLISHED["counts"])
    assert [len(splits[s]) for s in cells.SPLITS] == [1315, 101, 100]
    assert 0.2 < np.mean([splits[s].masks.mean() for s in cells.SPLITS]) < 0.25
    assert cells.content_sha256(fl_dataset) == PUBLISHED["content_sha256"]  # the schema default
    assert (
        yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["cells"]["data"]["content_sha256"]
        == (PUBLISHED["content_sha256"])
    )
