"""Layout of the fluorescent-cell experiment: path templates, score files, targets (torch-free).

Per code variant and seed, stage 1 trains the encoder + mean decoder (`mean`), stage 2 a SUPN and a diag precision
decoder on the frozen stage-1 model. Every method scored on the cells — the six VAE methods
`<supn|diag|l2>_<sampled|restoration>` and, when `mvtec.cells` enables them, the kNN methods (variant `corrected`
only: they have no released-code variant of their own here) — writes one CSV per (variant, seed) at `SCORES` with
columns `split` (healthy_test | infected), `name` (file name), `label` (0 healthy, 1 infected), `score` (higher =
more anomalous) and `backbone` (empty for the VAEs); table4 collects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anoloc import paths, variants
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_METHODS, cell_stage_of

EXPERIMENT = "cells"

DATA = f"{paths.RESOURCES}/cells/cells.npz"
CACHE = f"{paths.RESOURCES}/cells/cache"
_RUN = "{variant}/seed{seed}/{stage}"
MODEL = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/model.pt"
HISTORY = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/history.csv"
CHECKPOINTS = f"{paths.result_dir(EXPERIMENT, 'checkpoints')}/{_RUN}"
TENSORBOARD = f"{paths.result_dir(EXPERIMENT, 'tensorboard')}/{_RUN}"
SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{{variant}}/{{method}}/seed{{seed}}.csv"
VAE_SCORES = SCORES.replace("{method}", "{model}_{inference}")  # the six VAE methods, e.g. supn_sampled
KNN_VARIANT = "corrected"
KNN_SCORES = paths.partial(SCORES, variant=KNN_VARIANT).replace("{method}", "{knn_method}")  # kNN on the cells
PANELS = f"{paths.result_dir(EXPERIMENT, 'panels')}/fig4.npz"
TABLE4 = paths.table("table4")
TABLE4_RUNS = paths.table("table4_runs")
FIG4 = paths.figure("fig4")
FIG5 = paths.figure("fig5")
# conditioning of the learned precisions per (variant, seed): one row per (model, test cell)
DIAGNOSTICS = f"{paths.result_dir(EXPERIMENT, 'metrics')}/{{variant}}/supn_diagnostics/seed{{seed}}.csv"
TABLE4_DIAGNOSTICS = paths.table("table4_supn_diagnostics")
TABLE4_DIAGNOSTICS_SUMMARY = paths.table("table4_supn_diagnostics_summary")
FIG4_CONDITIONING = paths.figure("fig4_conditioning")
DIAGNOSED_MODELS = ("supn", "diag")


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table4 (+ per-seed runs), fig4, fig5 (+ the precision diagnostics when enabled)."""
    out = [TABLE4, TABLE4_RUNS, *FIG4, *FIG5]
    if cfg["diagnostics"]["enabled"]:
        out += [TABLE4_DIAGNOSTICS, TABLE4_DIAGNOSTICS_SUMMARY, *FIG4_CONDITIONING]
    return out


def diagnostics_files(cfg: Mapping[str, Any]) -> list[str]:
    """The per-(variant, seed) diagnostics CSVs collected by table4_supn_diagnostics."""
    return [paths.fill(DIAGNOSTICS, variant=v, seed=s) for v in cfg["variants"] for s in cfg["seeds"]]


def knn_enabled(config: Mapping[str, Any]) -> bool:
    """Whether the kNN methods score the cells (the `mvtec` experiment's `cells` section)."""
    mv = config["mvtec"]
    return bool(mv["enabled"] and "cells" in mv and mv["cells"]["enabled"])


def knn_runnable(config: Mapping[str, Any]) -> bool:
    """Whether the kNN-on-cells job can be defined: the `mvtec` section is complete (dataset, backbone, `cells`).

    True also when `mvtec.enabled` or `mvtec.cells.enabled` is false, so the matrix can ask for those rows."""
    mv = config["mvtec"]
    return "cells" in mv and "dataset" in mv


def knn_score_files(config: Mapping[str, Any]) -> list[str]:
    """Score CSVs of the kNN methods on the cells (rows of table4), if the config enables them."""
    if not knn_enabled(config):
        return []
    cells = config["mvtec"]["cells"]
    return [paths.fill(SCORES, variant=KNN_VARIANT, method=m, seed=s) for m in cells["methods"] for s in cells["seeds"]]


def vae_score_files(cells_cfg: Mapping[str, Any]) -> list[str]:
    """Score CSVs of the six VAE methods for every configured variant and seed."""
    return [
        paths.fill(SCORES, variant=v, method=m, seed=s)
        for v in cells_cfg["variants"]
        for m in CELL_VAE_METHODS
        for s in cells_cfg["seeds"]
    ]


def table4_inputs(config: Mapping[str, Any]) -> list[str]:
    """Everything table4 collects: the VAE methods and, when enabled, the kNN methods on the cells."""
    return vae_score_files(config["cells"]) + knn_score_files(config)


def parse_score_file(path: Any) -> tuple[str, str, str, int]:
    """(variant, model, inference, seed) of a score file; inference '' for the kNN methods."""
    v = paths.parse(SCORES, path)
    model, _, inference = v["method"].rpartition("_")
    if inference not in CELL_INFERENCES:
        model, inference = v["method"], ""
    return v["variant"], model, inference, int(v["seed"])


def mean_model(wildcards: Any) -> str:
    """The stage-1 model a (variant, seed) job uses: its own, or the shared one of `variants.stage1_variant`."""
    return paths.fill(MODEL, variant=variants.stage1_variant(wildcards.variant), seed=wildcards.seed, stage="mean")


def scored_model(wildcards: Any) -> str:
    """The model file a cell score job `{variant}/{model}_{inference}/seed{seed}` scores (l2: the stage-1 model)."""
    stage = cell_stage_of(wildcards.model)
    if stage == "mean":
        return mean_model(wildcards)
    return paths.fill(MODEL, variant=wildcards.variant, seed=wildcards.seed, stage=stage)


def panel_models(cfg: Mapping[str, Any]) -> dict[str, str]:
    """The three trained models fig4 shows: the first variant's first seed, stage by stage."""
    v, s = cfg["variants"][0], cfg["seeds"][0]
    out = {stage: paths.fill(MODEL, variant=v, seed=s, stage=stage) for stage in ("diag", "supn")}
    return {"mean": paths.fill(MODEL, variant=variants.stage1_variant(v), seed=s, stage="mean"), **out}
