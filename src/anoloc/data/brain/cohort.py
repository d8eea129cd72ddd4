"""The subjects of a brain cohort and its HCP training/validation split (pure Python, used at parse time).

Subjects are known when the workflow is parsed: for the synthetic demo cohort they follow from the config
(`brain.data.synthetic.n_hcp`, `n_brats`); for real data they are enumerated from the user's HCP and BraTS folders
(`anoloc.data.brain.layouts`), and a missing or malformed folder raises `AnolocError` before any job runs.
Cohorts: `synthetic` (generated under `SYNTH_ROOT` in the HCP / BraTS layouts) or `real` (the user's folders).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
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
SOURCES = {"synthetic": "synthetic", "folders": "real"}  # brain.data.source → cohort


@dataclass(frozen=True)
class BrainSubjects:
    """Subject ids and raw input files of one cohort."""

    cohort: str
    hcp: dict[str, str]  # subject → T2 path
    brats: dict[str, tuple[str, str]]  # case → (T2 path, seg path)
    brats_grade: dict[str, str | None]


def cohort(cfg: Mapping[str, Any]) -> str:
    """`synthetic` (demo) or `real` (the user's HCP / BraTS folders) for the `brain` config section."""
    source = cfg["data"]["source"]
    if source not in SOURCES:
        raise AnolocError(f"brain.data.source must be one of {sorted(SOURCES)}, got {source!r}")
    return SOURCES[source]


@functools.lru_cache(maxsize=8)
def _subjects_cached(data_json: str) -> BrainSubjects:
    data = json.loads(data_json)
    exclude = list(data["exclude"])
    if data["source"] == "synthetic":
        syn = data["synthetic"]
        hcp = {s: hcp_t2_path(SYNTH_HCP_ROOT, s).as_posix() for s in synthetic_hcp_ids(syn["n_hcp"])}
        cases = synthetic_brats_cases(syn["n_brats"])
        brats = {c: tuple(p.as_posix() for p in brats_case_paths(SYNTH_BRATS_ROOT, c, g)) for c, g in cases}
        grades = dict(cases)
        hcp = {k: v for k, v in hcp.items() if k not in exclude}
        brats = {k: v for k, v in brats.items() if k not in exclude}
        return BrainSubjects("synthetic", hcp, brats, {k: grades[k] for k in brats})
    found_hcp = hcp_subjects(data["hcp_root"], exclude)
    found_brats = brats_cases(data["brats_root"], exclude)
    return BrainSubjects(
        "real",
        {s: str(p) for s, p in found_hcp.items()},
        {c: (str(b.t2), str(b.seg)) for c, b in found_brats.items()},
        {c: b.grade for c, b in found_brats.items()},
    )


def subjects(cfg: Mapping[str, Any]) -> BrainSubjects:
    """The cohort's subjects (scans the real folders once per config; raises `AnolocError` on bad layouts)."""
    cohort(cfg)
    return _subjects_cached(json.dumps(cfg["data"], sort_keys=True, default=str))


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


def training_split(cfg: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(training, validation) HCP subjects of the configured cohort."""
    return hcp_split(list(subjects(cfg).hcp), float(cfg["train"]["val_fraction"]), int(cfg["train"]["split_seed"]))


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
    training_split(cfg)
    return subs
