"""Brain MRI preprocessing: one NIfTI T2 volume (+ optional tumour segmentation) → axial 2D slices in a .npz.

Steps (vae-kl-grad spec §3.2–§3.3; the same for HCP and BraTS so that both end in the same geometry):

1. read with nibabel and reorient to the closest canonical orientation (RAS+, `nib.as_closest_canonical`);
2. z-score over the non-zero (brain) voxels; the background stays 0 (the datasets are skull-stripped);
3. resample to a common isotropic spacing with `nibabel.processing.resample_to_output` (linear for the image,
   nearest neighbour for the brain mask and the label);
4. keep the axial slices of the brain's extent minus `slice_offset` slices at each end (the paper drops 20
   slices at each end of its cropped volumes), and an in-plane field of view of `fov_mm` (x, y) centred on
   the brain's bounding box (zero padding where the volume is smaller);
5. count tumour voxels per slice (before resizing; they define healthy / diseased slices);
6. resize every slice to `image_size`² (bilinear, aspect ratio not preserved, as the paper), label and
   mask by bilinear resize then > 0.5 (as the paper's `seg > 0.5`), and clip the image to ±`clip`.

Slices are stored as (S, H, W) with rows running anterior → posterior and columns patient left → right
(neurological convention: patient left on the image left). Whole tumour = BraTS label > 0.

Input checks (each an `AnolocError` naming the file): an unreadable header (e.g. an unknown datatype code),
a non-finite or singular affine, a resampled grid above `MAX_RESAMPLED_VOXELS` (checked before resampling:
absurd voxel sizes would otherwise ask for gigabytes), no brain left after resampling, and a segmentation
that is not a label map (non-integer, negative or non-finite values; integer labels other than BraTS'
{0, 1, 2, 4}: label 3 alone, BraTS 2023's enhancing tumour, is only a warning; every other label is an error).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import nibabel.processing
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from skimage.transform import resize

from anoloc.io import save_npz
from anoloc.utils import AnolocError, PathLike

log = logging.getLogger(__name__)

SUBJECT_KEYS = ("image", "brain_mask", "label", "tumour_voxels", "slice_index")
# largest resampled grid accepted (voxels): a 464³ grid, ≈ 0.4 GB per float32 copy; real brains need ≈ 10⁷
MAX_RESAMPLED_VOXELS = 100_000_000
BRATS_LABELS = frozenset({0, 1, 2, 4})  # background, necrotic/non-enhancing core, oedema, enhancing tumour
BRATS_2023_LABELS = frozenset({0, 1, 2, 3})  # BraTS 2023 renumbered enhancing tumour 4 → 3
EXCLUDE_HINT = "or leave the subject out with `brain.data.exclude`"


@dataclass(frozen=True)
class PreprocessConfig:
    spacing_mm: float = 1.0
    fov_mm: Sequence[float] = (160.0, 200.0)
    slice_offset: int = 20
    image_size: int = 64
    clip: float = 1.5

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> PreprocessConfig:
        return cls(
            spacing_mm=float(cfg.get("spacing_mm", 1.0)),
            fov_mm=tuple(float(v) for v in cfg.get("fov_mm", (160.0, 200.0))),
            slice_offset=int(cfg.get("slice_offset", 20)),
            image_size=int(cfg.get("image_size", 64)),
            clip=float(cfg.get("clip", 1.5)),
        )


@dataclass
class SliceSet:
    """Slices of several subjects, concatenated; `subject[i]` names the subject of slice i."""

    image: np.ndarray  # (N, H, W) float32
    brain_mask: np.ndarray  # (N, H, W) bool
    label: np.ndarray  # (N, H, W) bool
    tumour_voxels: np.ndarray  # (N,) int
    slice_index: np.ndarray  # (N,) int
    subject: np.ndarray  # (N,) str
    subjects: list[str] = field(default_factory=list)  # in order of appearance

    def __len__(self) -> int:
        return len(self.image)


def _corrupt(path: Path, exc: BaseException) -> AnolocError:
    return AnolocError(
        f"{path} is not a readable NIfTI volume ({type(exc).__name__}: {exc}). The file is corrupt or truncated, or "
        f"its header is invalid (e.g. an unknown datatype code): copy it again from your original download, "
        f"{EXCLUDE_HINT}."
    )


def check_affine(path: Path, affine: np.ndarray) -> None:
    """Refuse a voxel-to-world affine with NaN/inf entries or a singular 3×3 part (no usable geometry)."""
    if not np.all(np.isfinite(affine)):
        raise AnolocError(
            f"{path}: the header's affine (sform/qform) contains NaN or infinite values, so the voxel geometry "
            f"is unknown. Repair the header (e.g. `fslorient -copyqform2sform {path}` if the qform is valid), "
            f"{EXCLUDE_HINT}."
        )
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise AnolocError(
            f"{path}: the header's affine is singular (a zero voxel size?). Repair the header, {EXCLUDE_HINT}."
        )


def load_nifti(path: PathLike) -> tuple[nib.Nifti1Image, np.ndarray]:
    """(image, float32 data) of a 3D NIfTI file; a (X, Y, Z, 1) volume is squeezed. Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise AnolocError(f"NIfTI file {path} does not exist; check the data folder configured in brain.data")
    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except (OSError, EOFError, ValueError, zlib.error, ImageFileError, HeaderDataError) as exc:
        raise _corrupt(path, exc) from exc
    check_affine(path, img.affine)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3 or min(data.shape) < 2:
        raise AnolocError(f"{path}: expected a 3D volume, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        log.warning("%s: %d non-finite voxels set to 0", path, np.count_nonzero(~np.isfinite(data)))
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return nib.Nifti1Image(data, img.affine), data


def canonical(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """The volume reoriented to the closest canonical (RAS+) orientation."""
    return nib.as_closest_canonical(img)


def zscore_nonzero(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z-scored data, mask): mean/std over the non-zero voxels; background stays exactly 0."""
    mask = data != 0
    if np.count_nonzero(mask) < 10:
        raise ValueError("volume has (almost) no non-zero voxels")
    vals = data[mask].astype(np.float64)
    mean, std = vals.mean(), vals.std()
    out = np.zeros_like(data, dtype=np.float32)
    out[mask] = ((vals - mean) / (std + 1e-8)).astype(np.float32)
    return out, mask


def check_resampled_size(path: Path, shape: Sequence[int], affine: np.ndarray, spacing: float) -> tuple[int, ...]:
    """The grid `resample_to_output` will create; `AnolocError` above `MAX_RESAMPLED_VOXELS` (before any work)."""
    out_shape = tuple(int(n) for n in nibabel.processing.vox2out_vox((tuple(shape[:3]), affine), (spacing,) * 3)[0])
    n = int(np.prod(out_shape, dtype=np.float64))
    if n > MAX_RESAMPLED_VOXELS:
        zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        raise AnolocError(
            f"{path}: voxel size {tuple(float(f'{z:.4g}') for z in zooms)} mm × shape {tuple(shape[:3])} resampled "
            f"to {spacing} mm gives a {out_shape} grid ({n:.3g} voxels, {4 * n / 1e9:.3g} GB per copy), above the "
            f"limit of {MAX_RESAMPLED_VOXELS:.3g}. The voxel size in the header (pixdim / affine) is wrong, or "
            f"brain.preprocess.spacing_mm is far too small: fix the header or the setting, {EXCLUDE_HINT}."
        )
    return out_shape


def check_segmentation(path: Path, seg: np.ndarray) -> None:
    """A BraTS label map: integer labels in {0, 1, 2, 4}; see the module docstring for what is refused."""
    if not np.all(np.isfinite(seg)) or np.any(seg < 0) or np.any(seg != np.round(seg)):
        bad = seg[~np.isfinite(seg) | (seg < 0) | (seg != np.round(seg))]
        raise AnolocError(
            f"{path}: a segmentation must hold integer labels >= 0 (BraTS: 0, 1, 2, 4), found values such as "
            f"{np.unique(bad)[:5].tolist()} ({bad.size} voxels): a probability map or an interpolated resampling? "
            f"Use the original BraTS *_seg file (or round/threshold it to labels yourself), {EXCLUDE_HINT}."
        )
    labels = set(np.unique(seg).astype(int).tolist())
    if labels <= BRATS_LABELS:
        return
    if labels <= BRATS_2023_LABELS:
        log.warning(
            "%s: labels %s include 3 (BraTS 2023's enhancing tumour; BraTS 2017-2021 use 4): every label > 0 "
            "counts as whole tumour",
            path,
            sorted(labels),
        )
        return
    raise AnolocError(
        f"{path}: unexpected segmentation labels {sorted(labels - BRATS_LABELS)[:10]} (BraTS labels are 0, 1, 2, 4; "
        f"every label > 0 counts as whole tumour). Is this the tumour segmentation? A binary mask must be 0/1; "
        f"fix the file, {EXCLUDE_HINT}."
    )


def _resample(data: np.ndarray, affine: np.ndarray, spacing: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    out = nibabel.processing.resample_to_output(
        nib.Nifti1Image(data, affine), voxel_sizes=(spacing,) * 3, order=order, mode="constant", cval=0.0
    )
    return np.asarray(out.dataobj), out.affine


def _crop_pad(arr: np.ndarray, axis: int, start: int, size: int) -> np.ndarray:
    """arr[start:start + size] along `axis`, zero-padded where the range leaves the array."""
    n = arr.shape[axis]
    lo, hi = max(start, 0), min(start + size, n)
    taken = np.take(arr, np.arange(lo, hi), axis=axis) if hi > lo else np.take(arr, [], axis=axis)
    pad = [(0, 0)] * arr.ndim
    pad[axis] = (lo - start, start + size - hi)
    return np.pad(taken, pad)


def preprocess_volume(t2_path: PathLike, seg_path: PathLike | None, cfg: PreprocessConfig) -> dict[str, np.ndarray]:
    """Preprocess one subject; returns the arrays of `SUBJECT_KEYS` (label all False without `seg_path`)."""
    t2_path = Path(t2_path)
    img, _ = load_nifti(t2_path)
    img = canonical(img)
    data = np.asarray(img.dataobj, dtype=np.float32)
    try:
        z, mask = zscore_nonzero(data)
    except ValueError as exc:
        raise AnolocError(f"{t2_path}: {exc}; is this the skull-stripped T2 volume?") from exc
    if seg_path is not None:
        seg_img, _ = load_nifti(seg_path)
        seg_img = canonical(seg_img)
        if seg_img.shape != img.shape or not np.allclose(seg_img.affine, img.affine, atol=1e-3):
            raise AnolocError(
                f"{seg_path}: segmentation grid {seg_img.shape} does not match the T2 volume {t2_path} "
                f"{img.shape} (shape or affine differ); both must come from the same BraTS case"
            )
        seg_data = np.asarray(seg_img.dataobj)
        check_segmentation(Path(seg_path), seg_data)
        seg = seg_data > 0
    else:
        seg = np.zeros(data.shape, dtype=bool)

    sp = float(cfg.spacing_mm)
    check_resampled_size(t2_path, data.shape, img.affine, sp)
    vol, _ = _resample(z, img.affine, sp, order=1)
    brain, _ = _resample(mask.astype(np.uint8), img.affine, sp, order=0)
    tumour, _ = _resample(seg.astype(np.uint8), img.affine, sp, order=0)
    brain, tumour = brain > 0, tumour > 0
    vol = np.where(brain, vol, 0.0).astype(np.float32)  # interpolation must not leak into the background

    zs = np.flatnonzero(brain.any(axis=(0, 1)))
    if len(zs) == 0:
        raise AnolocError(
            f"{t2_path}: no brain voxel is left after resampling to {sp} mm (volume {data.shape}, voxel size "
            f"{tuple(float(f'{z:.4g}') for z in img.header.get_zooms()[:3])} mm): the header's voxel size is wrong "
            f"or the volume is (almost) empty. Fix the header, {EXCLUDE_HINT}."
        )
    z0, z1 = int(zs[0]) + cfg.slice_offset, int(zs[-1]) - cfg.slice_offset
    if z1 < z0:
        raise AnolocError(
            f"{t2_path}: the brain spans only {len(zs)} axial slices at {sp} mm, fewer than 2 × slice_offset "
            f"({cfg.slice_offset}); lower brain.preprocess.slice_offset"
        )
    n_xy = [round(f / sp) for f in cfg.fov_mm]
    crops = []
    for axis, n in zip((0, 1), n_xy, strict=True):
        idx = np.flatnonzero(brain.any(axis=tuple(a for a in range(3) if a != axis)))
        centre = 0.5 * (idx[0] + idx[-1])
        crops.append((axis, round(centre - (n - 1) / 2), n))

    def to_slices(arr: np.ndarray) -> np.ndarray:
        arr = arr[:, :, z0 : z1 + 1]
        for axis, start, n in crops:
            arr = _crop_pad(arr, axis, start, n)
        # (X, Y, S) → (S, Y, X) with Y reversed: rows anterior → posterior, columns left → right
        return np.ascontiguousarray(arr.transpose(2, 1, 0)[:, ::-1, :])

    img_s, brain_s, tumour_s = to_slices(vol), to_slices(brain), to_slices(tumour)
    n_slices = img_s.shape[0]
    size = (n_slices, cfg.image_size, cfg.image_size)

    def rs(a: np.ndarray) -> np.ndarray:
        return resize(a.astype(np.float32), size, order=1, mode="edge", anti_aliasing=False, preserve_range=True)

    return {
        "image": np.clip(rs(img_s), -cfg.clip, cfg.clip).astype(np.float32),
        "brain_mask": rs(brain_s) > 0.5,
        "label": rs(tumour_s) > 0.5,
        "tumour_voxels": tumour_s.sum(axis=(1, 2)).astype(np.int32),
        "slice_index": np.arange(z0, z1 + 1, dtype=np.int32),
    }


def save_subject(arrays: Mapping[str, np.ndarray], path: PathLike, subject: str, dataset: str) -> None:
    """Write one subject's slices as a compressed .npz, atomically."""
    missing = set(SUBJECT_KEYS) - set(arrays)
    if missing:
        raise ValueError(f"missing arrays {sorted(missing)}")
    save_npz(path, {"subject": np.array(subject), "dataset": np.array(dataset), **arrays})


def load_subject(path: PathLike) -> dict[str, Any]:
    """The arrays of one preprocessed subject (+ `subject`, `dataset` strings)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            out = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise AnolocError(f"{path} is not a readable preprocessed subject ({exc}); delete it and rerun") from exc
    missing = set(SUBJECT_KEYS) - set(out)
    if missing:
        raise AnolocError(f"{path} lacks arrays {sorted(missing)}; delete it and rerun the preprocessing")
    out["subject"], out["dataset"] = str(out["subject"]), str(out["dataset"])
    return out


def load_slices(paths: Iterable[PathLike]) -> SliceSet:
    """Concatenate the slices of several preprocessed subjects (in the given order)."""
    parts = [load_subject(p) for p in paths]
    if not parts:
        raise AnolocError("no preprocessed subjects given")
    return SliceSet(
        **{k: np.concatenate([p[k] for p in parts]) for k in SUBJECT_KEYS},
        subject=np.concatenate([np.full(len(p["image"]), p["subject"]) for p in parts]),
        subjects=[p["subject"] for p in parts],
    )
