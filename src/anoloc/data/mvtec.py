"""MVTec AD: the official archive (download + checksum + safe extraction), its folder layout, and an offline
MVTec-format stand-in built from scikit-image's bundled CC0 textures with synthetic defects.

Layout (both): ``<root>/<class>/train/good/*.png``, ``<root>/<class>/test/good/*.png``,
``<root>/<class>/test/<defect>/*.png`` and ``<root>/<class>/ground_truth/<defect>/<name>_mask.png``
(masks 0/255; none for ``test/good``). This is what the SUPN repo's MVTec protocol walks (spec §5.4).

Torch-free: used by the data rules and by the experiment code.
"""

from __future__ import annotations

import json
import logging
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from anoloc.data import images as image_file
from anoloc.data.download import download_file, safe_extract
from anoloc.io import save_json
from anoloc.utils import AnolocError, PathLike, atomic_path

log = logging.getLogger(__name__)

MVTEC_CLASSES = (
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
)
# Official archive (5,264,982,680 bytes); URL and SHA-256 as used by anomalib (src/anomalib/data/datamodules/
# image/mvtecad.py). The config carries both; these are the defaults.
MVTEC_URL = (
    "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/420938113-1629952094/"
    "mvtec_anomaly_detection.tar.xz"
)
MVTEC_SHA256 = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"
TEXTURES = ("brick", "grass", "gravel")
DEFECTS = ("scratch", "hole", "contrast")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


# ---------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class TestImage:
    """One test image: `name` is `<defect>/<file stem>`, label 1 for every defect folder, 0 for `good`."""

    name: str
    path: Path
    defect: str
    label: int
    mask_path: Path | None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def class_split(root: PathLike, cls: str) -> tuple[list[Path], list[TestImage]]:
    """Training images (`train/good`, sorted) and test images (`test/good` first, then defects by name)."""
    base = Path(root) / cls
    train_dir, test_dir = base / "train" / "good", base / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise AnolocError(f"{base} is not an MVTec AD class folder (needs train/good/ and test/)")
    train = _images(train_dir)
    if not train:
        raise AnolocError(f"no training images in {train_dir}")
    defects = sorted(p.name for p in test_dir.iterdir() if p.is_dir())
    if "good" in defects:
        defects.remove("good")
        defects.insert(0, "good")
    test = []
    for defect in defects:
        for p in _images(test_dir / defect):
            mask = None
            if defect != "good":
                mask = base / "ground_truth" / defect / f"{p.stem}_mask.png"
                if not mask.is_file():
                    raise AnolocError(f"missing ground-truth mask {mask} for test image {p}")
            test.append(TestImage(f"{defect}/{p.stem}", p, defect, int(defect != "good"), mask))
    if not test:
        raise AnolocError(f"no test images in {test_dir}")
    return train, test


def find_root(folder: PathLike, classes: Sequence[str]) -> Path:
    """The folder holding the class folders: `folder` itself or its single sub-folder that does."""
    folder = Path(folder)
    if all((folder / c).is_dir() for c in classes):
        return folder
    subs = [p for p in folder.iterdir() if p.is_dir() and all((p / c).is_dir() for c in classes)]
    if len(subs) == 1:
        return subs[0]
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    raise AnolocError(
        f"{folder} does not contain the configured MVTec classes {list(classes)} (found {present}); "
        "check `mvtec.dataset.classes` or the archive"
    )


def validate_layout(root: PathLike, classes: Sequence[str]) -> dict[str, Any]:
    """Check every class (train/good, test/*, a mask per defective test image) and count the images."""
    counts = {}
    for cls in classes:
        train, test = class_split(root, cls)
        defects: dict[str, int] = {}
        for t in test:
            defects[t.defect] = defects.get(t.defect, 0) + 1
        counts[cls] = {
            "n_train": len(train),
            "n_test_good": defects.pop("good", 0),
            "n_test_anomalous": sum(defects.values()),
            "defects": defects,
        }
        if counts[cls]["n_test_good"] == 0 or counts[cls]["n_test_anomalous"] == 0:
            raise AnolocError(f"{Path(root) / cls}/test needs both good and defective images")
    return counts


GRAY_MODES = ("L", "I;16", "I", "F", "1")
CORRUPT_HINT = (
    "Replace it with the file from the original archive, or delete resources/mvtec/data and rerun the "
    "extraction (snakemake resources/mvtec/layout.json)."
)


def read_image(path: PathLike) -> np.ndarray:
    """uint8 (H, W) for grayscale files, (H, W, 3) otherwise; a corrupt file is an `AnolocError` naming it."""
    return image_file.read_image(path, lambda mode: "L" if mode in GRAY_MODES else "RGB", CORRUPT_HINT)[0]


def read_mask(path: PathLike | None, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (all False when `path` is None, i.e. a good image)."""
    if path is None:
        return np.zeros(shape, dtype=bool)
    m = image_file.read_image(path, "L", CORRUPT_HINT)[0] > 127
    if m.shape != shape:
        raise AnolocError(f"mask {path} has shape {m.shape}, its image {shape}")
    return m


def stack_rgb(images: Iterable[np.ndarray]) -> np.ndarray:
    """Stack images of one size into uint8 (N, H, W, 3) (grayscale repeated)."""
    out = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in images]
    return np.stack(out)


def extract_archive(
    archive: PathLike, dest: PathLike, classes: Sequence[str], sha256: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Verify (with `sha256`), safely extract and validate an MVTec-format archive into `dest`.

    Returns (class root, validated counts). The archive is checked before anything is unpacked, so a copy
    placed by hand is verified too; the layout is validated before the folder is moved into place, so a
    failed check leaves no `dest` behind. `sha256` None skips the check (a warning is logged): the offline
    stand-in is generated locally and has no fixed checksum.
    """
    archive, dest = Path(archive), Path(dest)
    if not sha256:
        log.warning("no sha256 given for %s: the archive is NOT verified before extraction", archive)
    counts: dict[str, Any] = {}
    rel: list[Path] = []

    def check(folder: Path) -> None:
        root = find_root(folder, classes)
        counts.update(validate_layout(root, classes))
        rel.append(root.relative_to(folder))

    hint = (
        f"{archive} is corrupt, incomplete or another release: delete it and rerun so that the download rule "
        "fetches it again (or, for a deliberately different copy, set mvtec.dataset.sha256 to its checksum)."
    )
    safe_extract(archive, dest, sha256=sha256, check=check, hint=hint)
    return dest / rel[0], counts


def download_archive(url: str, dest: PathLike, sha256: str | None) -> Path:
    """Fetch the official archive (atomic; a file with a wrong checksum is removed)."""
    if not sha256:
        log.warning("no sha256 configured for %s: the download is NOT verified", url)
    return download_file(url, dest, sha256=sha256, timeout=300.0)


# ------------------------------------------------------------------------- synthetic MVTec stand-in
def texture(name: str) -> np.ndarray:
    """A 512×512 uint8 grayscale photo bundled with scikit-image (brick, grass, gravel; CC0)."""
    from skimage import data

    if name not in TEXTURES:
        raise AnolocError(f"unknown texture {name!r}; choose from {TEXTURES}")
    img = getattr(data, name)()
    return img if img.ndim == 2 else (img[..., :3].mean(-1)).astype(np.uint8)


def normal_tile(tex: np.ndarray, size: int, rng: np.random.Generator, max_angle: float = 8.0) -> np.ndarray:
    """A random `size`² crop of `tex`, rotated by a small random angle and randomly mirrored (float64)."""
    from skimage.transform import rotate

    big = int(np.ceil(size * 1.2))
    if big > min(tex.shape):
        raise AnolocError(f"tile size {size} too large for a {tex.shape} texture (max {int(min(tex.shape) / 1.2)})")
    y, x = rng.integers(0, tex.shape[0] - big + 1), rng.integers(0, tex.shape[1] - big + 1)
    crop = tex[y : y + big, x : x + big].astype(np.float64)
    crop = rotate(crop, rng.uniform(-max_angle, max_angle), order=1, mode="reflect", preserve_range=True)
    off = (big - size) // 2
    tile = crop[off : off + size, off : off + size]
    return tile[:, ::-1].copy() if rng.random() < 0.5 else tile


def _scratch_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    from skimage.draw import polygon

    length = rng.uniform(0.3, 0.6) * size
    width = rng.uniform(2.0, 4.0) * size / 256
    angle = rng.uniform(0, np.pi)
    cy, cx = rng.uniform(0.3, 0.7, size=2) * size
    dy, dx = np.sin(angle) * length / 2, np.cos(angle) * length / 2
    ny, nx = np.cos(angle) * width / 2, -np.sin(angle) * width / 2
    rows = [cy - dy - ny, cy - dy + ny, cy + dy + ny, cy + dy - ny]
    cols = [cx - dx - nx, cx - dx + nx, cx + dx + nx, cx + dx - nx]
    mask = np.zeros((size, size), dtype=bool)
    rr, cc = polygon(rows, cols, shape=mask.shape)
    mask[rr, cc] = True
    return mask


def _ellipse_mask(size: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    from skimage.draw import ellipse

    ry, rx = rng.uniform(lo, hi, size=2) * size
    cy, cx = rng.uniform(0.25, 0.75, size=2) * size
    mask = np.zeros((size, size), dtype=bool)
    rr, cc = ellipse(cy, cx, ry, rx, shape=mask.shape, rotation=rng.uniform(0, np.pi))
    mask[rr, cc] = True
    return mask


def add_defect(tile: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image, boolean mask) with one synthetic defect. The mask is the region the defect was painted
    into: no pixel outside it changes (a pixel inside may keep its value by coincidence).

    scratch: a thin dark or bright stroke; hole: a dark ellipse keeping a trace of the texture;
    contrast: an ellipse whose local contrast is flattened and brightness shifted.
    """
    size = tile.shape[0]
    img = tile.copy()
    lo, hi = float(np.percentile(tile, 2)), float(np.percentile(tile, 98))
    if kind == "scratch":
        mask = _scratch_mask(size, rng)
        value = lo * 0.4 if rng.random() < 0.5 else min(255.0, hi + 0.5 * (255 - hi) + 20)
        img[mask] = value + rng.normal(0, 3, size=int(mask.sum()))
    elif kind == "hole":
        mask = _ellipse_mask(size, rng, 0.04, 0.09)
        img[mask] = 0.15 * img[mask] + 0.2 * lo
    elif kind == "contrast":
        mask = _ellipse_mask(size, rng, 0.08, 0.16)
        mean = img[mask].mean()
        shift = (hi - lo) * 0.35 * (1 if rng.random() < 0.5 else -1)
        img[mask] = (img[mask] - mean) * 0.2 + mean + shift
    else:
        raise AnolocError(f"unknown defect {kind!r}; choose from {DEFECTS}")
    return np.clip(np.round(img), 0, 255).astype(np.uint8), mask


def _save_png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, compress_level=3)


def write_synthetic(
    root: PathLike,
    classes: Sequence[str] = TEXTURES,
    n_train: int = 40,
    n_test_good: int = 10,
    n_test_per_defect: int = 5,
    tile: int = 256,
    defects: Sequence[str] = DEFECTS,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the texture-based MVTec-format dataset under `root`; returns the per-class counts."""
    root = Path(root)
    for ci, cls in enumerate(classes):
        rng = np.random.default_rng([seed, ci])
        tex = texture(cls)
        for split, n in (("train", n_train), ("test", n_test_good)):
            for i in range(n):
                img = np.clip(np.round(normal_tile(tex, tile, rng)), 0, 255).astype(np.uint8)
                _save_png(img, root / cls / split / "good" / f"{i:03d}.png")
        for defect in defects:
            for i in range(n_test_per_defect):
                img, mask = add_defect(normal_tile(tex, tile, rng), defect, rng)
                _save_png(img, root / cls / "test" / defect / f"{i:03d}.png")
                _save_png(mask.astype(np.uint8) * 255, root / cls / "ground_truth" / defect / f"{i:03d}_mask.png")
    (root / "readme.txt").write_text(
        "MVTec-AD-format stand-in generated by anoloc (anoloc.data.mvtec.write_synthetic) from scikit-image's\n"
        f"bundled textures {list(classes)} (CC0) with synthetic defects {list(defects)} and exact masks.\n"
        f"seed={seed} tile={tile} n_train={n_train} n_test_good={n_test_good} n_test_per_defect={n_test_per_defect}\n"
        "This is NOT MVTec AD; numbers obtained on it are not comparable with the papers.\n"
    )
    return validate_layout(root, classes)


def pack_tar_xz(folder: PathLike, archive: PathLike, preset: int = 1) -> Path:
    """Pack the contents of `folder` into a reproducible `.tar.xz` (sorted members, mtime 0, owner 0), atomically."""
    folder = Path(folder)
    with atomic_path(archive, suffix=".tar.xz") as tmp, tarfile.open(tmp, "w:xz", preset=preset) as tf:
        for p in sorted(folder.rglob("*")):
            info = tf.gettarinfo(str(p), arcname=p.relative_to(folder).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if p.is_file():
                with open(p, "rb") as fh:
                    tf.addfile(info, fh)
            else:
                tf.addfile(info)
    return Path(archive)


def make_synthetic_archive(archive: PathLike, **kwargs: Any) -> dict[str, Any]:
    """Generate the stand-in dataset in a temporary folder and pack it as `archive` (.tar.xz)."""
    with tempfile.TemporaryDirectory(prefix="mvtec_synth_") as tmp:
        counts = write_synthetic(tmp, **kwargs)
        pack_tar_xz(tmp, archive)
    log.info("wrote %s: %s", archive, json.dumps(counts))
    return counts


# ------------------------------------------------------------------------- preparation steps (rules)
def generate(archive: PathLike, dataset_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Write the offline MVTec-format stand-in (texture classes) as a .tar.xz."""
    synth = dict(dataset_cfg["synthetic"])
    return make_synthetic_archive(archive, classes=list(dataset_cfg["classes"]), **synth)


def download(archive: PathLike, dataset_cfg: Mapping[str, Any]) -> Path:
    """Download the official archive (checked against the configured SHA-256)."""
    return download_archive(dataset_cfg["url"], archive, dataset_cfg["sha256"])


def extract(
    archive: PathLike, data_dir: PathLike, layout_json: PathLike, classes: Sequence[str], sha256: str | None
) -> dict[str, Any]:
    """Verify the archive (`sha256`; None for the locally generated stand-in), safely extract it, validate the
    configured classes, write the layout JSON (class root + counts)."""
    root, counts = extract_archive(archive, data_dir, classes, sha256=sha256)
    layout = {"root": str(root), "archive": str(archive), "classes": counts}
    save_json(layout, layout_json)
    log.info("extracted %s -> %s (%d classes)", archive, root, len(counts))
    return layout


def class_root(layout_json: PathLike) -> Path:
    """The folder holding one sub-folder per category (from the layout JSON of `extract`)."""
    return Path(json.loads(Path(layout_json).read_text())["root"])
