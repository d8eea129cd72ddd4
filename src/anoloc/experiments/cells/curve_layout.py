"""Layout of the cells learning curve (`cells.curve`): path templates, step ↔ epoch mapping, targets (torch-free).

Per seed, stage 1 (encoder + mean) trains one run of max(steps) optimiser steps and keeps a snapshot at every
requested step count; stage 2 (SUPN, diag) trains one run each from the final stage-1 snapshot, with snapshots at
the same step counts. Everything lives under `results/cells/<kind>/curve/<variant>/…` (the experiment's results
kinds, beside the table4 runs; `curve` is no code variant, so the two layouts never match each other's paths):

- snapshots (loadable model files, `anoloc.models.load_model`): `models/curve/<variant>/seed<s>/<stage>/step<k>.pt`,
  the stage's per-epoch history: `models/curve/<variant>/seed<s>/<stage>/history.csv`;
- checkpoints (resume state + the fingerprinted snapshots a rerun reuses):
  `checkpoints/curve/<variant>/seed<s>/<stage>/`; TensorBoard: `tensorboard/curve/<variant>/seed<s>/<stage>/`;
- scores: `scores/curve/<variant>/<model>_<inference>/step<k>/seed<s>.csv` (the cells score columns + `stage`,
  `step_requested`, `step`, `epoch`).

A requested step count k is reached at the end of epoch ceil(k / steps_per_epoch) (incomplete batches dropped),
i.e. after ceil(k / steps_per_epoch) · steps_per_epoch ≥ k steps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from anoloc import paths, variants
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_MODELS, cell_stage_of
from anoloc.utils import AnolocError

EXPERIMENT = "cells"
CURVE = "curve"  # the folder of the curve under each results kind of the cells experiment
_RUN = f"{CURVE}/{{variant}}/seed{{seed}}/{{stage}}"
SNAPSHOT = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/step{{step}}.pt"
HISTORY = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/history.csv"
CHECKPOINTS = f"{paths.result_dir(EXPERIMENT, 'checkpoints')}/{_RUN}"
TENSORBOARD = f"{paths.result_dir(EXPERIMENT, 'tensorboard')}/{_RUN}"
_SCORE_FILE = "{model}_{inference}/step{step}/seed{seed}.csv"
SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{CURVE}/{{variant}}/{_SCORE_FILE}"
TABLE = paths.table("table4_curve")
FIGURE = paths.figure("fig4_curve")


def enabled(cells_cfg: Mapping[str, Any]) -> bool:
    """Whether the cells section asks for the learning curve."""
    return bool(cells_cfg["curve"]["enabled"])


def steps(cells_cfg: Mapping[str, Any]) -> list[int]:
    """The requested step counts, checked to be strictly increasing positive integers."""
    values = [int(k) for k in cells_cfg["curve"]["steps"]]
    if not values or any(k < 1 for k in values) or any(b <= a for a, b in itertools.pairwise(values)):
        raise AnolocError(f"cells.curve.steps must be strictly increasing positive integers, got {values}")
    return values


def milestone_epochs(step_counts: Sequence[int], steps_per_epoch: int) -> list[int]:
    """Epoch at whose end each requested step count is reached: ceil(k / steps_per_epoch)."""
    if steps_per_epoch < 1:
        raise AnolocError(f"a learning-curve stage needs at least one batch per epoch, got {steps_per_epoch}")
    return [math.ceil(int(k) / steps_per_epoch) for k in step_counts]


def snapshot_files(cells_cfg: Mapping[str, Any], template: str = SNAPSHOT, **values: Any) -> list[str]:
    """The snapshot files of one stage run, in step order: `template` (default `SNAPSHOT`, or a variant of it
    with other wildcard names, e.g. `{precision}` for `{stage}`) with `values` filled in and `{step}` = each step;
    wildcards without a value are kept."""
    tpl = paths.partial(template, **values)
    return [paths.partial(tpl, step=k) for k in steps(cells_cfg)]


def final_snapshot(cells_cfg: Mapping[str, Any], template: str = SNAPSHOT, **values: Any) -> str:
    """The last snapshot of a stage run (stage 2 starts from the final stage-1 snapshot)."""
    return snapshot_files(cells_cfg, template, **values)[-1]


def score_files(cells_cfg: Mapping[str, Any]) -> list[str]:
    """Every curve score CSV: models × inferences × steps × seeds of the configured variant."""
    curve = cells_cfg["curve"]
    return [
        paths.fill(SCORES, variant=curve["variant"], model=m, inference=i, step=k, seed=s)
        for m in CELL_VAE_MODELS
        for i in CELL_INFERENCES
        for k in steps(cells_cfg)
        for s in curve["seeds"]
    ]


def stage1_final_snapshot(cells_cfg: Mapping[str, Any]) -> Any:
    """Input function of a stage-2 curve run: the final stage-1 snapshot of its seed, from the variant whose stage-1
    model it uses (`variants.stage1_variant`: `bounded` shares the `corrected` stage 1)."""

    def mean(wildcards: Any) -> str:
        v = variants.stage1_variant(wildcards.variant)
        return final_snapshot(cells_cfg, variant=v, seed=wildcards.seed, stage="mean")

    return mean


def scored_snapshot(wildcards: Any) -> str:
    """The snapshot a curve score job `{variant}/{model}_{inference}/step{step}/seed{seed}` scores (L2: stage 1,
    of the variant whose stage-1 model it uses)."""
    w = wildcards
    stage = cell_stage_of(w.model)
    variant = variants.stage1_variant(w.variant) if stage == "mean" else w.variant
    return paths.fill(SNAPSHOT, variant=variant, seed=w.seed, stage=stage, step=w.step)


def snapshot_of_score(score_path: Any) -> str:
    """The snapshot a curve score file is computed from (L2 scores the stage-1 snapshot)."""
    return scored_snapshot(SimpleNamespace(**paths.parse(SCORES, score_path)))


def parse_score_file(path: Any) -> dict[str, Any]:
    """variant, model, inference, step_requested, seed of a curve score file."""
    v = paths.parse(SCORES, path)
    return {
        "variant": v["variant"],
        "model": v["model"],
        "inference": v["inference"],
        "step_requested": int(v["step"]),
        "seed": int(v["seed"]),
    }


def targets(cells_cfg: Mapping[str, Any]) -> list[str]:
    """table4_curve and fig4_curve when the curve is enabled, else nothing."""
    return [TABLE, *FIGURE] if enabled(cells_cfg) else []
