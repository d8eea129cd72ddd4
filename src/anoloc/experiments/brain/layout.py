"""Layout of the pixel-wise brain MRI experiment: path templates, input lists, targets (torch-free).

Every preprocessed subject is one file `resources/brain/<cohort>/<hcp|brats>/<subject>.npz`; one conv VAE is
trained per (cohort, seed) and scores every BraTS slice and the held-out HCP validation slices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from anoloc import paths
from anoloc.data.brain.cohort import SYNTH_BRATS_ROOT, SYNTH_HCP_ROOT, cohort, subjects, training_split
from anoloc.utils import AnolocError

EXPERIMENT = "brain"

SYNTH_TEMPLATE = f"{paths.RESOURCES}/brain/synthetic/mni152_tissue.npz"
SYNTH_HCP_T2 = SYNTH_HCP_ROOT + "/{subject}/T1w/T2w_acpc_dc_restore_brain.nii.gz"
SYNTH_BRATS_T2 = SYNTH_BRATS_ROOT + "/{grade}/{subject}/{subject}_t2.nii.gz"
SYNTH_BRATS_SEG = SYNTH_BRATS_ROOT + "/{grade}/{subject}/{subject}_seg.nii.gz"
PREPROCESSED = f"{paths.RESOURCES}/brain/{{cohort}}/{{dataset}}/{{subject}}.npz"

_RUN = "{cohort}/seed{seed}"
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


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table2, table3 (+ summary), fig2, fig3."""
    return [TABLE2, TABLE3, TABLE3_SUMMARY, *FIG2, *FIG3]


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
    """Score files of every configured seed; `split` is `brats` (test maps) or `hcp_val` (healthy validation)."""
    template = {"brats": SCORES_BRATS, "hcp_val": SCORES_HCP_VAL}[split]
    return [paths.fill(template, cohort=cohort(cfg), seed=s) for s in cfg["seeds"]]


def seed_of(path: Any) -> int:
    """The seed of a BraTS or HCP-validation score file."""
    for template in (SCORES_BRATS, SCORES_HCP_VAL):
        try:
            return int(paths.parse(template, path)["seed"])
        except AnolocError:
            continue
    raise AnolocError(f"unexpected brain score path {path} (expected {SCORES_BRATS})")
