"""Layout of the pixel-wise brain MRI experiment: runs, path templates, input lists, targets (torch-free).

Every preprocessed subject is one file `resources/brain/<cohort>/<hcp|brats>/<subject>.npz`. A run is one
(z, log c, width factor); its id (`anoloc.paths.RUN_IDS["brain"]`, e.g. `z256_logc0_w1`) names its folders. One conv
VAE is trained per (code variant, cohort, run, seed) and scores every BraTS slice and the held-out HCP validation
slices. The sweep varies one hyperparameter at a time around the defaults (`model.z`, `model.log_c`, width 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from anoloc import paths
from anoloc.config import one_at_a_time
from anoloc.data.brain.cohort import cohort, subjects, training_split
from anoloc.utils import AnolocError

EXPERIMENT = "brain"
SWEEPABLE = ("z", "log_c", "width")
RUN_ID = paths.RUN_IDS[EXPERIMENT]

SYNTH_TEMPLATE = f"{paths.RESOURCES}/brain/synthetic/mni152_tissue.npz"
PREPROCESSED = f"{paths.RESOURCES}/brain/{{cohort}}/{{dataset}}/{{subject}}.npz"

_RUN = "{variant}/{cohort}/{run}/seed{seed}"
MODEL = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/model.pt"
HISTORY = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/history.csv"
CHECKPOINTS = f"{paths.result_dir(EXPERIMENT, 'checkpoints')}/{_RUN}"
TENSORBOARD = f"{paths.result_dir(EXPERIMENT, 'tensorboard')}/{_RUN}"
SCORES_BRATS = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_RUN}/brats.npz"
SCORES_HCP_VAL = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_RUN}/hcp_val.npz"

TABLE2 = paths.table("table2")
TABLE3 = paths.table("table3")
TABLE3_SUMMARY = paths.table("table3_summary")
FIG2 = paths.figure("fig2")
FIG3 = paths.figure("fig3")


@dataclass(frozen=True, order=True)
class BrainRun:
    """Hyperparameters and seed of one brain training run (width multiplies every entry of `model.h_sizes`)."""

    z: int
    log_c: float
    width: float
    seed: int


def run_id(r: BrainRun) -> str:
    """E.g. `z256_logc0_w1` (the seed has its own path level)."""
    return paths.fill(RUN_ID, z=r.z, log_c=f"{r.log_c:g}", width=f"{r.width:g}")


def parse_run(run: str, seed: int | str) -> BrainRun:
    """The `BrainRun` of run id `run` and `seed`."""
    v = paths.parse(RUN_ID, run)
    return BrainRun(int(v["z"]), float(v["log_c"]), float(v["width"]), int(seed))


def runs(cfg: Mapping[str, Any]) -> list[BrainRun]:
    """The default run plus the one-at-a-time sweep, for every seed; the default run of the first seed first."""
    defaults = {"z": int(cfg["model"]["z"]), "log_c": float(cfg["model"]["log_c"]), "width": 1.0}
    hps = one_at_a_time(defaults, cfg["sweep"], SWEEPABLE, "brain")
    return [BrainRun(**hp, seed=int(s)) for hp in hps for s in cfg["seeds"]]


def default_run(cfg: Mapping[str, Any]) -> BrainRun:
    """The run at the default hyperparameters with the first seed (the figures show it)."""
    return runs(cfg)[0]


def validate_sweep(cfg: Mapping[str, Any]) -> None:
    """Parse-time check of the sweep: known parameters, finite values."""
    bad = [f"brain.sweep.{p}" for p, vals in cfg["sweep"].items() for v in vals if not math.isfinite(float(v))]
    if bad or not math.isfinite(float(cfg["model"]["log_c"])):
        raise AnolocError(f"{', '.join(bad) or 'brain.model.log_c'}: every value must be a finite number")
    runs(cfg)


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table2, table3 (+ summary), fig2, fig3."""
    return [TABLE2, TABLE3, TABLE3_SUMMARY, *FIG2, *FIG3]


def synthetic_files(cfg: Mapping[str, Any]) -> list[str]:
    """Every NIfTI file of the synthetic cohort (T2 of each HCP-like subject; T2 and segmentation per case)."""
    subs = subjects(cfg)
    return [*subs.hcp.values(), *(p for pair in subs.brats.values() for p in pair)]


def synthetic_brats(cfg: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Case → [T2 path, segmentation path, grade] of the synthetic BraTS-like cases."""
    subs = subjects(cfg)
    return {c: [*subs.brats[c], subs.brats_grade[c]] for c in subs.brats}


def preprocessed_files(cfg: Mapping[str, Any], dataset: str, ids: list[str] | None = None) -> list[str]:
    """Preprocessed files of `dataset` (hcp | brats): all subjects of the cohort, or those in `ids`."""
    subs = subjects(cfg)
    ids = sorted(subs.hcp if dataset == "hcp" else subs.brats) if ids is None else ids
    return [paths.fill(PREPROCESSED, cohort=subs.cohort, dataset=dataset, subject=s) for s in ids]


def train_inputs(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """Preprocessed HCP files of the training and the validation subjects."""
    train, val = training_split(cfg)
    return {"train": preprocessed_files(cfg, "hcp", train), "val": preprocessed_files(cfg, "hcp", val)}


def raw_inputs(cfg: Mapping[str, Any]) -> Callable[[Any], dict[str, str]]:
    """Input function of the preprocessing rule: the subject's raw NIfTI file(s)."""

    def inputs(wildcards: Any) -> dict[str, str]:
        subs = subjects(cfg)
        if wildcards.cohort != subs.cohort:
            raise AnolocError(f"brain cohort {wildcards.cohort!r} is not the configured one ({subs.cohort!r})")
        table = subs.hcp if wildcards.dataset == "hcp" else subs.brats
        if wildcards.subject not in table:
            raise AnolocError(f"brain: unknown {wildcards.dataset} subject {wildcards.subject!r}")
        found = table[wildcards.subject]
        return {"t2": found} if wildcards.dataset == "hcp" else {"t2": found[0], "seg": found[1]}

    return inputs


def score_files(cfg: Mapping[str, Any], split: str = "brats") -> list[str]:
    """Score files of every configured variant, run and seed; `split` is `brats` (test maps) or `hcp_val`
    (healthy validation)."""
    template = {"brats": SCORES_BRATS, "hcp_val": SCORES_HCP_VAL}[split]
    return [
        paths.fill(template, variant=v, cohort=cohort(cfg), run=run_id(r), seed=r.seed)
        for v in cfg["variants"]
        for r in runs(cfg)
    ]


def figure_scores(cfg: Mapping[str, Any]) -> str:
    """The BraTS score file the figures show: the first variant's default run, first seed."""
    r = default_run(cfg)
    return paths.fill(SCORES_BRATS, variant=cfg["variants"][0], cohort=cohort(cfg), run=run_id(r), seed=r.seed)


def parse_score_file(path: Any) -> tuple[str, BrainRun]:
    """(variant, run) of a BraTS or HCP-validation score file."""
    for template in (SCORES_BRATS, SCORES_HCP_VAL):
        try:
            v = paths.parse(template, path)
        except AnolocError:
            continue
        return v["variant"], parse_run(v["run"], v["seed"])
    raise AnolocError(f"unexpected brain score path {path} (expected {SCORES_BRATS})")
