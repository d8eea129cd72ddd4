"""Offline demo cohort: synthetic HCP-like (healthy) and BraTS-like (tumour) T2 volumes written as NIfTI files
in exactly the HCP and BraTS 2017 folder layouts, so that the real preprocessing runs on them unchanged.

**Demo data, not HCP or BraTS: numbers obtained on it are not paper numbers.** (offline-data spec §1.3)

Base anatomy: nilearn's bundled MNI152 2009a T1, grey-matter and white-matter maps (1 mm, BSD-3), read
straight from the installed package (no fetch). A T2-like contrast is synthesised from the tissue maps:
T2 ≈ 1.0·CSF + 0.55·GM + 0.30·WM (CSF bright, GM mid, WM dark), CSF = brain mask − GM − WM.

Each subject (seeded by (seed, dataset, subject), deterministic):
- a random affine (rotation ±6°, scale, shift) and a smooth random deformation (cubic upsampling of a 5³
  grid of displacements, std `deform_mm`), tissue weights jittered per subject;
- a smooth multiplicative bias field, a random global intensity scale and Gaussian noise inside the brain;
  background exactly 0 (skull-stripped, like the "_brain" HCP files and BraTS);
- HCP-like: LAS orientation, 182×218×182 mm field of view, voxel `hcp_voxel_mm`;
- BraTS-like: LPS orientation, 240×240×155 mm, voxel `brats_voxel_mm`, and one tumour: an irregular blob
  (ellipsoid radius modulated by a smooth random field) at a random supratentorial position, with oedema
  (label 2, hyperintense), a solid core that is enhancing (label 4, intermediate T2) around a necrotic centre
  (label 1, brighter than CSF) for high grade, or a non-enhancing core (label 1) for low grade, plus mild mass
  effect (tissue pushed radially outwards).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from anoloc.data.brain.layouts import brats_case_paths, hcp_t2_path
from anoloc.io import save_npz
from anoloc.utils import AnolocError, PathLike, atomic_path, derive_seed

log = logging.getLogger(__name__)

TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
TISSUES = ("csf", "gm", "wm", "mask")
GRIDS = {  # field of view (mm) and axis signs of the written affine (orientation)
    "hcp": ((182.0, 218.0, 182.0), (-1, 1, 1)),  # LAS, as HCP's acpc-aligned volumes
    "brats": ((240.0, 240.0, 155.0), (-1, -1, 1)),  # LPS, as BraTS
}


@dataclass(frozen=True)
class SyntheticConfig:
    n_hcp: int = 12
    n_brats: int = 8
    seed: int = 0
    hcp_voxel_mm: float = 1.75
    brats_voxel_mm: float = 2.0
    deform_mm: float = 3.0
    tumour_radius_mm: tuple[float, float] = (12.0, 30.0)

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> SyntheticConfig:
        kw = {
            k: cfg[k] for k in ("n_hcp", "n_brats", "seed", "hcp_voxel_mm", "brats_voxel_mm", "deform_mm") if k in cfg
        }
        if "tumour_radius_mm" in cfg:
            kw["tumour_radius_mm"] = tuple(float(v) for v in cfg["tumour_radius_mm"])
        return cls(**kw)


@dataclass
class Template:
    """Tissue maps in [0, 1] on the 1 mm MNI grid (cropped to the brain), and their voxel → world affine."""

    maps: dict[str, np.ndarray]
    affine: np.ndarray
    centre: np.ndarray  # world coordinates (mm) of the brain's bounding-box centre


# ------------------------------------------------------------------------------------------- template
def nilearn_data_dir() -> Path:
    """nilearn's bundled data folder, located without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise AnolocError("the synthetic brain cohort needs the `nilearn` package (pip install nilearn)")
    folder = Path(next(iter(spec.submodule_search_locations)), "datasets", "data")
    missing = [f for f in TEMPLATE_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise AnolocError(f"nilearn's bundled MNI152 templates not found in {folder} (missing {missing})")
    return folder


def build_template(smooth_mm: float = 0.8) -> Template:
    """Read the MNI152 T1/GM/WM maps, derive CSF and the brain mask, crop, and pre-smooth by `smooth_mm`
    (anti-aliasing for resampling to coarser voxels)."""
    folder = nilearn_data_dir()
    imgs = {k: nib.load(str(folder / f)) for k, f in TEMPLATE_FILES.items()}
    raw = {k: np.asarray(im.dataobj, dtype=np.float32) / 255.0 for k, im in imgs.items()}
    affine = imgs["t1"].affine
    mask = (raw["t1"] > 0) | ndi.binary_fill_holes(raw["gm"] + raw["wm"] > 0.2)
    csf = np.clip(mask - raw["gm"] - raw["wm"], 0.0, 1.0) * mask
    maps = {"csf": csf, "gm": raw["gm"] * mask, "wm": raw["wm"] * mask, "mask": mask.astype(np.float32)}
    idx = np.argwhere(mask)
    lo, hi = np.maximum(idx.min(0) - 4, 0), np.minimum(idx.max(0) + 5, mask.shape)
    sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    maps = {k: ndi.gaussian_filter(v[sl], smooth_mm) if smooth_mm > 0 else v[sl] for k, v in maps.items()}
    affine = affine.copy()
    affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    bbox = np.argwhere(maps["mask"] > 0.5)
    centre_vox = 0.5 * (bbox.min(0) + bbox.max(0))
    centre = affine[:3, :3] @ centre_vox + affine[:3, 3]
    return Template(maps=maps, affine=affine, centre=centre)


def save_template(t: Template, path: PathLike) -> None:
    """Store the template compactly (maps quantised to uint8)."""
    q = {k: np.round(np.clip(v, 0, 1) * 255).astype(np.uint8) for k, v in t.maps.items()}
    save_npz(path, {"affine": t.affine, "centre": t.centre, **q})


def load_template(path: PathLike) -> Template:
    with np.load(path) as f:
        maps = {k: f[k].astype(np.float32) / 255.0 for k in TISSUES}
        return Template(maps=maps, affine=f["affine"], centre=f["centre"])


# ------------------------------------------------------------------------------------------- subjects
def grid(dataset: str, voxel_mm: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """(shape, voxel → world affine) of a dataset's synthetic grid, the field of view centred on world 0."""
    fov, signs = GRIDS[dataset]
    shape = tuple(round(f / voxel_mm) for f in fov)
    affine = np.eye(4)
    for a, (n, s) in enumerate(zip(shape, signs, strict=True)):
        affine[a, a] = s * voxel_mm
        affine[a, 3] = -s * voxel_mm * (n - 1) / 2
    return shape, affine


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], n_ctrl: int, std: float) -> np.ndarray:
    """A smooth random field: cubic upsampling of an n_ctrl^d normal grid (std `std`) to 1/4 of `shape`,
    then linear upsampling to `shape` (fast, and smooth at the scale of the control grid)."""
    coarse = rng.normal(0.0, std, (n_ctrl,) * len(shape))
    mid = tuple(max(n_ctrl, -(-s // 4)) for s in shape)
    field = ndi.zoom(coarse, [m / n_ctrl for m in mid], order=3, mode="nearest", grid_mode=True)
    out = ndi.zoom(
        field.astype(np.float32),
        [s / m for s, m in zip(shape, field.shape, strict=True)],
        order=1,
        grid_mode=True,
        mode="nearest",
    )
    return out[tuple(slice(0, s) for s in shape)].astype(np.float32)


def _rotation(angles_rad: np.ndarray) -> np.ndarray:
    cx, cy, cz = np.cos(angles_rad)
    sx, sy, sz = np.sin(angles_rad)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _sample(t: Template, q_world: np.ndarray, shape: tuple[int, ...], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    inv = np.linalg.inv(t.affine)
    vox = inv[:3, :3] @ q_world + inv[:3, 3:]
    return {
        k: ndi.map_coordinates(t.maps[k], vox, order=1, mode="constant", cval=0.0, prefilter=False).reshape(shape)
        for k in names
    }


@dataclass
class _Tumour:
    centre: np.ndarray  # world mm
    r_oedema: float
    r_core: float
    r_necrosis: float
    axes: np.ndarray  # 3×3: world → ellipsoid frame, scaled


def _place_tumour(
    rng: np.random.Generator, mask: np.ndarray, p: np.ndarray, voxel: float, cfg: SyntheticConfig, grade: str
) -> _Tumour:
    r_oed = float(rng.uniform(*cfg.tumour_radius_mm))
    depth = ndi.distance_transform_edt(mask, sampling=voxel).ravel()
    ok = (depth > 0.6 * r_oed) & (p[2] > -15.0)  # inside the brain, above the cerebellum
    if not ok.any():
        ok = depth >= depth.max() * 0.8
    centre = p[:, rng.choice(np.flatnonzero(ok))]
    rot = _rotation(rng.uniform(-np.pi, np.pi, 3))
    axes = np.diag(1.0 / rng.uniform(0.75, 1.3, 3)) @ rot.T
    r_core = r_oed * float(rng.uniform(0.45, 0.7))
    r_nec = r_core * float(rng.uniform(0.3, 0.6)) if grade == "HGG" else 0.0
    return _Tumour(centre, r_oed, r_core, r_nec, axes)


def generate_subject(
    t: Template, dataset: str, subject: str, cfg: SyntheticConfig, grade: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One synthetic subject: (T2 volume float32, segmentation uint8 or None, affine)."""
    if dataset not in GRIDS:
        raise ValueError(f"dataset must be one of {sorted(GRIDS)}, got {dataset!r}")
    rng = np.random.default_rng(derive_seed(cfg.seed, dataset, subject))
    voxel = cfg.hcp_voxel_mm if dataset == "hcp" else cfg.brats_voxel_mm
    shape, affine = grid(dataset, voxel)
    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    p = (affine[:3, :3] @ ijk + affine[:3, 3:]).astype(np.float32)  # world mm of every voxel

    # subject → template world: random similarity transform + smooth deformation
    rot = _rotation(np.deg2rad(rng.uniform(-6.0, 6.0, 3)))
    scale = rng.uniform(0.93, 1.04) * (1.0 + rng.uniform(-0.04, 0.04, 3))
    shift = rng.uniform(-4.0, 4.0, 3)
    lin = (np.diag(1.0 / scale) @ rot.T).astype(np.float32)
    deform = np.stack([_smooth_field(rng, shape, 5, cfg.deform_mm).ravel() for _ in range(3)])
    weights = {"csf": 1.0, "gm": rng.uniform(0.50, 0.60), "wm": rng.uniform(0.26, 0.34)}

    def to_template(pp: np.ndarray) -> np.ndarray:
        return lin @ (pp - shift[:, None].astype(np.float32)) + t.centre[:, None].astype(np.float32) + deform

    tumour = None
    if dataset == "brats":
        mask0 = _sample(t, to_template(p), shape, ("mask",))["mask"] > 0.5
        tumour = _place_tumour(rng, mask0, p, voxel, cfg, grade or "HGG")
        rel = p - tumour.centre[:, None].astype(np.float32)
        dist2 = (rel**2).sum(0)
        push = 0.5 * tumour.r_core / tumour.r_oedema * np.exp(-dist2 / (2 * tumour.r_oedema**2))
        p_src = p - rel * push.astype(np.float32)  # sample closer to the centre: tissue pushed outwards
    else:
        p_src = p
    tissue = _sample(t, to_template(p_src), shape, TISSUES)
    brain = tissue["mask"] > 0.5
    t2 = sum(w * tissue[k] for k, w in weights.items()).astype(np.float32)

    seg = None
    if tumour is not None:
        t2, seg = _add_tumour(rng, t2, brain, p, shape, voxel, tumour, grade or "HGG")

    t2 *= np.exp(_smooth_field(rng, shape, 4, 0.12))  # bias field
    t2 *= rng.uniform(300.0, 900.0)  # scanner units
    level = float(np.median(t2[brain]))
    t2 += rng.normal(0.0, rng.uniform(0.015, 0.035) * level, shape).astype(np.float32)
    t2 = np.where(brain, np.maximum(t2, 0.01 * level), 0.0).astype(np.float32)
    return t2, seg, affine


def _add_tumour(
    rng: np.random.Generator,
    t2: np.ndarray,
    brain: np.ndarray,
    p: np.ndarray,
    shape: tuple[int, ...],
    voxel: float,
    tumour: _Tumour,
    grade: str,
) -> tuple[np.ndarray, np.ndarray]:
    rel = p - tumour.centre[:, None]
    r = np.linalg.norm(tumour.axes @ rel, axis=0).reshape(shape)
    irregular = np.clip(_smooth_field(rng, shape, 9, 1.0), -1.5, 1.5)
    r_eff = r / (1.0 + 0.22 * irregular)
    width = 0.35 * voxel

    def soft(radius: float) -> np.ndarray:
        return brain / (1.0 + np.exp(np.clip((r_eff - radius) / width, -50, 50)))

    texture = 1.0 + 0.06 * _smooth_field(rng, shape, 12, 1.0)
    a_oed = soft(tumour.r_oedema)
    t2 = t2 * (1 - a_oed) + a_oed * rng.uniform(0.75, 0.9) * texture
    a_core = soft(tumour.r_core)
    if grade == "HGG":
        t2 = t2 * (1 - a_core) + a_core * rng.uniform(0.55, 0.7) * texture
        a_nec = soft(tumour.r_necrosis)
        t2 = t2 * (1 - a_nec) + a_nec * rng.uniform(1.05, 1.2)
    else:
        t2 = t2 * (1 - a_core) + a_core * rng.uniform(0.85, 1.0) * texture
    seg = np.zeros(shape, dtype=np.uint8)
    seg[(r_eff < tumour.r_oedema) & brain] = 2
    if grade == "HGG":
        seg[(r_eff < tumour.r_core) & brain] = 4
        seg[(r_eff < tumour.r_necrosis) & brain] = 1
    else:
        seg[(r_eff < tumour.r_core) & brain] = 1
    return t2.astype(np.float32), seg


# ------------------------------------------------------------------------------------------- writing
def write_nifti(data: np.ndarray, affine: np.ndarray, path: PathLike) -> None:
    """Write a NIfTI-1 volume atomically (qform and sform set to `affine`)."""
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(img, str(tmp))


def write_hcp_subject(t: Template, subject: str, cfg: SyntheticConfig, hcp_root: PathLike) -> Path:
    """Generate one HCP-like subject into `<hcp_root>/<subject>/T1w/T2w_acpc_dc_restore_brain.nii.gz`."""
    t2, _, affine = generate_subject(t, "hcp", subject, cfg)
    path = hcp_t2_path(hcp_root, subject)
    write_nifti(t2, affine, path)
    return path


def write_brats_case(
    t: Template, case: str, grade: str, cfg: SyntheticConfig, brats_root: PathLike
) -> tuple[Path, Path]:
    """Generate one BraTS-like case into `<brats_root>/<grade>/<case>/<case>_{t2,seg}.nii.gz`."""
    t2, seg, affine = generate_subject(t, "brats", case, cfg, grade=grade)
    t2_path, seg_path = brats_case_paths(brats_root, case, grade)
    write_nifti(t2, affine, t2_path)
    write_nifti(seg, affine, seg_path)
    return t2_path, seg_path
