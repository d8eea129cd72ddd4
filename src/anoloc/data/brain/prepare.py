"""The preparation steps of the brain experiment, torch-free so that their jobs start fast.

- `generate_cohort`: the synthetic demo cohort in one job — the MNI152 tissue template, then every HCP-like and
  BraTS-like subject as NIfTI in the real layouts (each subject depends only on its name and the cohort seed);
- `preprocess`: one subject's NIfTI volume(s) → one `.npz` of axial slices (one job per subject, so that a cluster
  spreads a large real cohort and a corrupt file stops only its own job).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from anoloc.data.brain.preprocess import PreprocessConfig, preprocess_volume, save_subject
from anoloc.data.brain.synthetic import (
    SyntheticConfig,
    Template,
    build_template,
    generate_subject,
    load_template,
    save_template,
    write_nifti,
)
from anoloc.utils import PathLike

log = logging.getLogger(__name__)


def write_subject(
    template: Template,
    dataset: str,
    subject: str,
    cfg: SyntheticConfig,
    t2_out: PathLike,
    seg_out: PathLike | None = None,
    grade: str | None = None,
) -> None:
    """Write one synthetic subject's NIfTI file(s) (the paths are those of the HCP / BraTS layouts)."""
    t2, seg, affine = generate_subject(template, dataset, subject, cfg, grade=grade)
    write_nifti(t2, affine, t2_out)
    if seg_out is not None:
        if seg is None:
            raise ValueError("a segmentation output was asked for a subject without tumour")
        write_nifti(seg, affine, seg_out)
    log.info("synthetic %s subject %s -> %s", dataset, subject, t2_out)


def generate_cohort(
    template_out: PathLike,
    smooth_mm: float,
    synthetic_cfg: Mapping[str, Any],
    hcp: Mapping[str, PathLike],
    brats: Mapping[str, Sequence[Any]],
) -> None:
    """The template (saved to `template_out` and read back, so every subject sees the stored one) and every
    subject: `hcp` maps a subject to its T2 path, `brats` a case to (T2 path, segmentation path, grade)."""
    save_template(build_template(smooth_mm), template_out)
    template, cfg = load_template(template_out), SyntheticConfig.from_dict(synthetic_cfg)
    for subject, t2 in hcp.items():
        write_subject(template, "hcp", subject, cfg, t2)
    for case, (t2, seg, grade) in brats.items():
        write_subject(template, "brats", case, cfg, t2, seg, grade)


def preprocess(
    t2: PathLike, seg: PathLike | None, dataset: str, subject: str, cfg: Mapping[str, Any], out: PathLike
) -> dict[str, np.ndarray]:
    """Preprocess one subject's NIfTI volume(s) into `out` (.npz)."""
    arrays = preprocess_volume(t2, seg, PreprocessConfig.from_dict(cfg))
    save_subject(arrays, out, subject=subject, dataset=dataset)
    log.info(
        "%s %s: %d slices, %d tumour pixels -> %s", dataset, subject, len(arrays["image"]), arrays["label"].sum(), out
    )
    return arrays
