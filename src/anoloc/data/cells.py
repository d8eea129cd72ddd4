"""The fluorescent red-blood-cell (FL) dataset of the SUPN paper: folder layout, validation, sources, one
prepared `.npz` (spec supn-cells §4, offline-data §1.4). Torch-free.

Layout: `<root>/{healthy_train,healthy_test,infected}/{raw,mask}/NNNNN.png`, 128×128 8-bit grayscale PNGs;
a mask (same file name) marks the central cell. Sources (config `cells.data.source`):
- ``path``: a local copy (the real dataset: `../shared/data/fl_dataset`, CC BY 4.0);
- ``download``: the public archive (the authors' GitHub repository, or Zenodo record 6645803), extracted and
  verified by a content hash: SHA-256 of the `sha256sum`-style listing of the dataset's PNGs, i.e.
  `find healthy_train healthy_test infected -name '*.png' | LC_ALL=C sort | xargs sha256sum | sha256sum`;
- ``synthetic``: generated cell-like crops in the same layout and format, for machines without the data.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from anoloc.data import images as image_file
from anoloc.data.download import download_file, safe_extract
from anoloc.io import save_npz
from anoloc.utils import AnolocError, PathLike, sha256sum

log = logging.getLogger(__name__)

SPLITS = ("healthy_train", "healthy_test", "infected")
TEST_SPLITS = ("healthy_test", "infected")
LABELS = {"healthy_test": 0, "infected": 1}
IMAGE_SIZE = 128
LAYOUT = "<root>/{healthy_train,healthy_test,infected}/{raw,mask}/NNNNN.png (128×128 8-bit grayscale)"
NAME_RE = re.compile(r"\d+\.png")


@dataclass(frozen=True)
class CellSplit:
    """One split: uint8 images (N,128,128), boolean central-cell masks (N,128,128), sorted file names."""

    images: np.ndarray
    masks: np.ndarray
    names: list[str]

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.images.shape != (n, IMAGE_SIZE, IMAGE_SIZE) or self.masks.shape != self.images.shape:
            raise ValueError(f"CellSplit: images {self.images.shape}, masks {self.masks.shape}, {n} names")
        if self.images.dtype != np.uint8 or self.masks.dtype != bool:
            raise ValueError(
                f"CellSplit: images must be uint8 and masks bool, got {self.images.dtype}, {self.masks.dtype}"
            )

    def __len__(self) -> int:
        return len(self.names)


# ----------------------------------------------------------------------------------------- folders
def _read_png(path: Path) -> np.ndarray:
    arr, mode = image_file.read_image(path, hint=f"Replace it with the original file; expected {LAYOUT}.")
    if mode != "L":
        raise AnolocError(f"{path}: PIL mode {mode!r}, expected 8-bit grayscale ('L'); expected {LAYOUT}")
    if arr.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise AnolocError(f"{path}: size {arr.shape[1]}×{arr.shape[0]}, expected {IMAGE_SIZE}×{IMAGE_SIZE}")
    return arr


def _png_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise AnolocError(f"{folder} is missing; expected {LAYOUT}")
    names = []
    for p in folder.iterdir():
        if p.name.startswith("."):
            continue
        if not (p.is_file() and NAME_RE.fullmatch(p.name)):
            raise AnolocError(f"{p}: unexpected entry (only NNNNN.png files belong in {folder}); expected {LAYOUT}")
        names.append(p.name)
    return sorted(names)


def load_split(root: PathLike, split: str) -> CellSplit:
    """Read and validate one split (raw/mask pairing, sizes, 8-bit grayscale)."""
    base = Path(root) / split
    raw, mask = _png_names(base / "raw"), _png_names(base / "mask")
    missing_mask = sorted(set(raw) - set(mask))
    if missing_mask:
        raise AnolocError(f"{base / 'raw' / missing_mask[0]} has no mask {base / 'mask' / missing_mask[0]}")
    missing_raw = sorted(set(mask) - set(raw))
    if missing_raw:
        raise AnolocError(f"{base / 'mask' / missing_raw[0]} has no image {base / 'raw' / missing_raw[0]}")
    if not raw:
        raise AnolocError(f"{base / 'raw'} holds no images; expected {LAYOUT}")
    images = np.stack([_read_png(base / "raw" / n) for n in raw])
    masks = np.stack([_read_png(base / "mask" / n) > 0 for n in raw])
    return CellSplit(images=images, masks=masks, names=raw)


def load_folder(root: PathLike, expected_counts: Mapping[str, int] | None = None) -> dict[str, CellSplit]:
    """Read and validate the three splits of a dataset folder; `expected_counts` (per split) are checked."""
    root = Path(root)
    if not root.is_dir():
        raise AnolocError(
            f"cells dataset folder {root} does not exist; expected {LAYOUT}. Set cells.data.path, "
            "or use cells.data.source: download (the public archive) or synthetic."
        )
    splits = {s: load_split(root, s) for s in SPLITS}
    for s, want in (expected_counts or {}).items():
        if s not in splits:
            raise AnolocError(f"cells.data.counts: unknown split {s!r} (splits: {SPLITS})")
        if len(splits[s]) != int(want):
            raise AnolocError(
                f"{root / s}: {len(splits[s])} image/mask pairs, expected {want} (cells.data.counts.{s}); "
                "an incomplete copy? Fix the folder or the counts."
            )
    return splits


def dataset_files(root: PathLike) -> list[str]:
    """Relative POSIX paths of the dataset PNGs (`<split>/{raw,mask}/*.png`), sorted byte-wise."""
    root = Path(root)
    files = [p.relative_to(root).as_posix() for s in SPLITS for p in (root / s).glob("*/*.png") if p.is_file()]
    return sorted(f for f in files if f.split("/")[1] in ("raw", "mask"))


def content_sha256(root: PathLike) -> str:
    """SHA-256 of the `sha256sum` listing (`<sha256>  <relative path>` lines) of the dataset PNGs."""
    root = Path(root)
    listing = "".join(f"{sha256sum(root / f)}  {f}\n" for f in dataset_files(root))
    return hashlib.sha256(listing.encode()).hexdigest()


# ------------------------------------------------------------------------------------- prepared npz
def save_prepared(splits: Mapping[str, CellSplit], path: PathLike, info: Mapping[str, Any] | None = None) -> None:
    """One compressed .npz with `<split>_images`, `<split>_masks`, `<split>_names` for every split."""
    arrays: dict[str, np.ndarray] = {}
    for s in SPLITS:
        arrays[f"{s}_images"] = splits[s].images
        arrays[f"{s}_masks"] = splits[s].masks
        arrays[f"{s}_names"] = np.asarray(splits[s].names, dtype=np.str_)
    for k, v in (info or {}).items():
        arrays[f"info_{k}"] = np.asarray(str(v))
    save_npz(path, arrays)


def load_prepared(path: PathLike) -> dict[str, CellSplit]:
    """The prepared dataset: {"healthy_train", "healthy_test", "infected"} → `CellSplit`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {
                s: CellSplit(
                    images=z[f"{s}_images"].astype(np.uint8, copy=False),
                    masks=z[f"{s}_masks"].astype(bool, copy=False),
                    names=[str(n) for n in z[f"{s}_names"]],
                )
                for s in SPLITS
            }
    except (OSError, KeyError, ValueError) as exc:
        raise AnolocError(f"{path} is not a prepared cells dataset ({exc}); delete it and rerun cells_prepare") from exc


# ---------------------------------------------------------------------------------------- synthetic
def _ellipse_rho(size: int, cy: float, cx: float, a: float, b: float, theta: float) -> np.ndarray:
    """Normalised elliptical radius (1 on the outline) of an ellipse with semi-axes a (rotated by theta), b."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    return np.sqrt((u / a) ** 2 + (v / b) ** 2)


def _cell_profile(rho: np.ndarray, edge: float, dimple: float) -> np.ndarray:
    """A bright disc with a soft edge and a dimmer centre (the biconcave red-cell look)."""
    disc = 1.0 / (1.0 + np.exp(np.clip((rho - 1.0) * edge, -50, 50)))
    return disc * (1.0 - dimple * np.exp(-((rho / 0.4) ** 2)))


def synthetic_cell(rng: np.random.Generator, infected: bool, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One cell-like crop (uint8, min–max stretched to [0, 254]) and its central-cell mask (bool).

    A bright elliptical disc/ring (radius ≈ 35 px, ≈ 23 % of the crop) centred on a dark noisy background,
    parts of 0–3 neighbours at the edges; infected cells get 1–4 small bright puncta inside the cell.
    """
    from scipy.ndimage import gaussian_filter

    brightness = rng.uniform(0.6, 1.0)
    img = np.full((size, size), rng.uniform(0.05, 0.2))
    for _ in range(int(rng.integers(0, 4))):  # dimmer neighbours, centred outside the central cell
        ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(62, 90)
        cy, cx = size / 2 + dist * np.sin(ang), size / 2 + dist * np.cos(ang)
        rho = _ellipse_rho(size, cy, cx, rng.uniform(28, 40), rng.uniform(24, 36), rng.uniform(0, np.pi))
        img += rng.uniform(0.3, 0.85) * brightness * _cell_profile(rho, rng.uniform(12, 25), rng.uniform(0, 0.4))
    cy, cx = size / 2 + rng.uniform(-3, 3, size=2)
    a, b = rng.uniform(33, 42), rng.uniform(28, 37)
    rho = _ellipse_rho(size, cy, cx, a, b, rng.uniform(0, np.pi))
    texture = gaussian_filter(rng.standard_normal((size, size)), 4.0)
    texture /= texture.std() + 1e-12
    img += brightness * _cell_profile(rho, rng.uniform(12, 25), rng.uniform(0, 0.5)) * (1 + 0.04 * texture)
    if infected:  # small bright puncta inside the central cell
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        inside = np.argwhere(rho < 0.75)
        for _ in range(int(rng.integers(1, 5))):
            py, px = inside[rng.integers(len(inside))]
            sy, sx = rng.uniform(1.0, 2.2), rng.uniform(1.0, 3.5)
            img += rng.uniform(0.4, 1.0) * brightness * np.exp(-0.5 * (((yy - py) / sy) ** 2 + ((xx - px) / sx) ** 2))
    img = gaussian_filter(img, 0.8) + rng.normal(0, rng.uniform(0.02, 0.07), size=(size, size))
    lo, hi = img.min(), img.max()
    return np.round((img - lo) / (hi - lo) * 254).astype(np.uint8), rho <= 1.0


def write_synthetic(root: PathLike, counts: Mapping[str, int], seed: int = 0) -> Path:
    """Write a synthetic dataset in the real layout (PNG, 128×128, masks {0, 254}) under `root`."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    for k, split in enumerate(SPLITS):
        rng = np.random.default_rng([int(seed), k])
        for sub in ("raw", "mask"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(int(counts[split])):
            img, mask = synthetic_cell(rng, infected=split == "infected")
            name = f"{i:05d}.png"
            Image.fromarray(img, mode="L").save(root / split / "raw" / name)
            Image.fromarray(mask.astype(np.uint8) * 254, mode="L").save(root / split / "mask" / name)
    return root


# ------------------------------------------------------------------------------------------ sources
def _find_dataset_root(folder: Path) -> Path:
    for cand in [folder, *sorted(p.parent for p in folder.rglob("healthy_train") if p.is_dir())]:
        if all((cand / s).is_dir() for s in SPLITS):
            return cand
    raise AnolocError(f"no folder with {', '.join(SPLITS)} found in the extracted archive {folder}")


def extract_dataset_archive(
    archive: PathLike, dest: PathLike, archive_sha256: str | None, expected_content: str | None, origin: str = ""
) -> Path:
    """Verify, safely extract and content-check an archive holding the FL dataset; return the dataset root.

    `archive_sha256` (if given) is checked before anything is unpacked; `expected_content` (the dataset's
    `content_sha256`, if given) on the unpacked PNGs before the folder is moved to `dest`, so a failing check
    leaves no `dest` behind.
    """
    archive, dest = Path(archive), Path(dest)
    origin = origin or str(archive)
    rel: list[Path] = []

    def check(folder: Path) -> None:
        root = _find_dataset_root(folder)
        actual = content_sha256(root)
        if expected_content and actual != expected_content:
            raise AnolocError(
                f"the dataset in {archive} (from {origin}) has content hash {actual}, expected "
                f"{expected_content} (cells.data.content_sha256): not the published FL dataset; nothing "
                "was kept. Check the URL, or update the hash if you deliberately use another release."
            )
        rel.append(root.relative_to(folder))
        log.info("FL dataset in %s: content hash %s ok", archive, actual)

    hint = (
        "The archive is corrupt, incomplete or not the configured release: delete it and rerun so that it is "
        "downloaded again (or set cells.data.archive_sha256 to the checksum of a copy you trust)."
    )
    safe_extract(archive, dest, sha256=archive_sha256, check=check, hint=hint)
    return dest / rel[0]


def fetch_download(cfg: Mapping[str, Any], cache_dir: PathLike) -> Path:
    """Download the archive at `cfg["url"]` (checked by `archive_sha256` if set), extract it safely and verify
    the dataset's content hash (`content_sha256`); return the dataset root."""
    cache_dir = Path(cache_dir)
    url = cfg["url"]
    archive = cache_dir / (Path(urlparse(url).path).name or "fl_dataset_archive")
    archive_sha256 = cfg["archive_sha256"]
    if not archive_sha256:
        log.info("no cells.data.archive_sha256: %s is verified by the content hash of its PNGs only", url)
    download_file(url, archive, archive_sha256)
    return extract_dataset_archive(archive, cache_dir / "extracted", archive_sha256, cfg["content_sha256"], url)


def resolve_source(cfg: Mapping[str, Any], cache_dir: PathLike) -> tuple[Path, dict[str, int] | None]:
    """(dataset folder, expected counts or None) for the configured source; downloads or generates as needed."""
    source = cfg["source"]
    counts = {s: int(v) for s, v in cfg["counts"].items()}
    if source == "path":
        return Path(cfg["path"]), counts
    if source == "download":
        return fetch_download(cfg, cache_dir), counts
    if source == "synthetic":
        seed = int(cfg["synthetic_seed"])
        log.info("generating a synthetic cells dataset %s (seed %d)", counts, seed)
        return write_synthetic(Path(cache_dir) / "synthetic", counts, seed), counts
    raise AnolocError(f"cells.data.source must be path, download or synthetic, got {source!r}")


def prepare(cfg: Mapping[str, Any], cache_dir: PathLike, out_npz: PathLike) -> dict[str, CellSplit]:
    """Resolve the source, validate the folder and write the prepared `.npz` (`CELLS_PREPARED`)."""
    root, counts = resolve_source(cfg, cache_dir)
    splits = load_folder(root, counts)
    digest = content_sha256(root)
    if cfg["source"] == "path" and digest != cfg["content_sha256"]:
        log.warning("%s differs from the published FL dataset (content hash %s)", root, digest)
    save_prepared(splits, out_npz, {"source": cfg["source"], "root": root, "content_sha256": digest})
    log.info(
        "prepared cells from %s (%s): %s -> %s",
        root,
        cfg["source"],
        ", ".join(f"{s} {len(v)}" for s, v in splits.items()),
        out_npz,
    )
    return splits
