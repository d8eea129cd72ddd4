"""Paths, subject lists and splits of the brain MRI experiment (pure Python, imported by rules/brain.smk).

Subjects are known at parse time: for the synthetic demo cohort they follow from the config
(`brain.data.synthetic.n_hcp`, `n_brats`); for real data they are enumerated from the user's HCP and BraTS
folders (`anoloc.data.brain.layouts`), and a missing or malformed folder raises `AnolocError` before any job.

Cohorts: `synthetic` (the offline demo, generated under resources/brain/synthetic/raw in the HCP / BraTS
layouts) or `real` (the user's folders). Every preprocessed subject is one file
`resources/brain/<cohort>/<hcp|brats>/<subject>.npz`.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anoloc.data.brain.layouts import (
    brats_case_paths,
    brats_cases,
    hcp_subjects,
    hcp_t2_path,
    synthetic_brats_cases,
    synthetic_hcp_ids,
)
from anoloc.utils import AnolocError, derive_seed

SYNTH_ROOT = "resources/brain/synthetic/raw"
SYNTH_HCP_ROOT = f"{SYNTH_ROOT}/HCP"
SYNTH_BRATS_ROOT = f"{SYNTH_ROOT}/BraTS"
SYNTH_TEMPLATE = "resources/brain/synthetic/mni152_tissue.npz"
SYNTH_HCP_T2 = SYNTH_HCP_ROOT + "/{brain_subject}/T1w/T2w_acpc_dc_restore_brain.nii.gz"
SYNTH_BRATS_T2 = SYNTH_BRATS_ROOT + "/{brain_grade}/{brain_subject}/{brain_subject}_t2.nii.gz"
SYNTH_BRATS_SEG = SYNTH_BRATS_ROOT + "/{brain_grade}/{brain_subject}/{brain_subject}_seg.nii.gz"

PREPROCESSED = "resources/brain/{brain_cohort}/{brain_dataset}/{brain_subject}.npz"
MODEL_DIR = "results/brain/models/{brain_cohort}/seed{brain_seed}"
RUN_DIR = "results/checkpoints/brain/{brain_cohort}/seed{brain_seed}"
TENSORBOARD_DIR = "results/tensorboard/brain/{brain_cohort}/seed{brain_seed}"
SCORES_BRATS = "results/scores/brain/{brain_cohort}/seed{brain_seed}/brats.npz"
SCORES_HCP_VAL = "results/scores/brain/{brain_cohort}/seed{brain_seed}/hcp_val.npz"

TABLES = ["results/tables/table2.csv", "results/tables/table3.csv", "results/tables/table3_summary.csv"]
FIGURES = [
    "results/figures/fig2.png",
    "results/figures/fig2.pdf",
    "results/figures/fig3.png",
    "results/figures/fig3.pdf",
]


@dataclass(frozen=True)
class BrainSubjects:
    """Subject ids and raw input files of one cohort."""

    cohort: str
    hcp: dict[str, str]  # subject → T2 path
    brats: dict[str, tuple[str, str]]  # case → (T2 path, seg path)
    brats_grade: dict[str, str | None]


def cohort(cfg: Mapping[str, Any]) -> str:
    """`synthetic` (demo) or `real` (the user's HCP / BraTS folders)."""
    source = cfg["data"]["source"]
    if source not in ("synthetic", "folders"):
        raise AnolocError(f"brain.data.source must be `synthetic` or `folders`, got {source!r}")
    return "synthetic" if source == "synthetic" else "real"


def _cfg_key(cfg: Mapping[str, Any]) -> str:
    return json.dumps(cfg["data"], sort_keys=True, default=str)


@functools.lru_cache(maxsize=8)
def _subjects_cached(data_json: str) -> BrainSubjects:
    data = json.loads(data_json)
    exclude = list(data.get("exclude", []))
    if data["source"] == "synthetic":
        syn = data.get("synthetic", {})
        hcp = {s: hcp_t2_path(SYNTH_HCP_ROOT, s).as_posix() for s in synthetic_hcp_ids(syn.get("n_hcp", 12))}
        cases = synthetic_brats_cases(syn.get("n_brats", 8))
        brats = {c: tuple(p.as_posix() for p in brats_case_paths(SYNTH_BRATS_ROOT, c, g)) for c, g in cases}
        grades = dict(cases)
        hcp = {k: v for k, v in hcp.items() if k not in exclude}
        brats = {k: v for k, v in brats.items() if k not in exclude}
        return BrainSubjects("synthetic", hcp, brats, {k: grades[k] for k in brats})
    found_hcp = hcp_subjects(data.get("hcp_root"), exclude)
    found_brats = brats_cases(data.get("brats_root"), exclude)
    return BrainSubjects(
        "real",
        {s: str(p) for s, p in found_hcp.items()},
        {c: (str(b.t2), str(b.seg)) for c, b in found_brats.items()},
        {c: b.grade for c, b in found_brats.items()},
    )


def subjects(cfg: Mapping[str, Any]) -> BrainSubjects:
    """The cohort's subjects (scans the real folders once per config; raises `AnolocError` on bad layouts)."""
    cohort(cfg)
    return _subjects_cached(_cfg_key(cfg))


def hcp_split(hcp: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded subject-level (train, validation) split of the HCP subjects."""
    subs = sorted(hcp)
    n_val = max(1, round(val_fraction * len(subs))) if val_fraction > 0 else 0
    if len(subs) - n_val < 1:
        raise AnolocError(
            f"brain: {len(subs)} HCP subject(s) cannot be split into training and validation "
            f"(val_fraction {val_fraction}); add subjects or lower brain.train.val_fraction"
        )
    order = subs[:]
    random.Random(derive_seed(seed, "hcp-validation")).shuffle(order)
    return sorted(order[n_val:]), sorted(order[:n_val])


def validate(cfg: Mapping[str, Any]) -> BrainSubjects:
    """Parse-time check of the brain data and config: subjects found, splits possible."""
    try:
        subs = subjects(cfg)
    except AnolocError as exc:
        raise AnolocError(
            f"{exc}\nPoint brain.data.hcp_root / brain.data.brats_root to your copies (e.g. in an overlay config "
            "file), or set `brain: {enabled: false}` to run the other experiments without it."
        ) from None
    if len(subs.brats) < 2:
        raise AnolocError(f"brain: {len(subs.brats)} BraTS case(s) found; at least 2 are needed")
    hcp_split(list(subs.hcp), float(cfg["train"]["val_fraction"]), int(cfg["train"]["split_seed"]))
    return subs


def preprocessed_files(cfg: Mapping[str, Any], dataset: str, ids: list[str] | None = None) -> list[str]:
    subs = subjects(cfg)
    ids = sorted(subs.hcp if dataset == "hcp" else subs.brats) if ids is None else ids
    return [PREPROCESSED.format(brain_cohort=subs.cohort, brain_dataset=dataset, brain_subject=s) for s in ids]


def train_inputs(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """Preprocessed HCP files of the training and the validation subjects."""
    train, val = hcp_split(
        list(subjects(cfg).hcp), float(cfg["train"]["val_fraction"]), int(cfg["train"]["split_seed"])
    )
    return {"train": preprocessed_files(cfg, "hcp", train), "val": preprocessed_files(cfg, "hcp", val)}


def raw_inputs(cfg: Mapping[str, Any]) -> Callable[[Any], dict[str, str]]:
    """Input function of the preprocessing rule: the subject's raw NIfTI file(s)."""

    def inputs(wildcards: Any) -> dict[str, str]:
        subs = subjects(cfg)
        if wildcards.brain_cohort != subs.cohort:
            raise AnolocError(f"brain cohort {wildcards.brain_cohort!r} is not the configured one ({subs.cohort!r})")
        table = subs.hcp if wildcards.brain_dataset == "hcp" else subs.brats
        if wildcards.brain_subject not in table:
            raise AnolocError(f"brain: unknown {wildcards.brain_dataset} subject {wildcards.brain_subject!r}")
        paths = table[wildcards.brain_subject]
        return {"t2": paths} if wildcards.brain_dataset == "hcp" else {"t2": paths[0], "seg": paths[1]}

    return inputs


def score_files(cfg: Mapping[str, Any], split: str = "brats") -> list[str]:
    """Score files of every configured seed; `split` is `brats` (test maps) or `hcp_val` (healthy validation)."""
    template = {"brats": SCORES_BRATS, "hcp_val": SCORES_HCP_VAL}[split]
    return [template.format(brain_cohort=cohort(cfg), brain_seed=s) for s in cfg["seeds"]]


def seeds_of(paths: list[str]) -> list[int]:
    """Seeds from score paths `.../seed<k>/<brats|hcp_val>.npz`."""
    out = []
    for p in paths:
        name = Path(p).parent.name
        if not name.startswith("seed") or not name[4:].isdigit():
            raise AnolocError(f"unexpected brain score path {p} (expected .../seed<k>/brats.npz)")
        out.append(int(name[4:]))
    return out
