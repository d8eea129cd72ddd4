"""Layout of the sample-wise (Fashion)MNIST experiment: runs, path templates, targets (torch-free).

A run is one (z, log c, scaling s); its id (`anoloc.paths.RUN_IDS["mnist"]`, e.g. `z20_logc1.4_s1`) names its
folders and it is trained once per (code variant, dataset, held-out class, seed). Sweeps vary one hyperparameter at a
time around the defaults, on the classes of `sweep_classes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anoloc import paths
from anoloc.config import one_at_a_time
from anoloc.utils import AnolocError

EXPERIMENT = "mnist"
SWEEPABLE = ("z", "log_c", "scaling")
RUN_ID = paths.RUN_IDS[EXPERIMENT]

DATA = f"{paths.RESOURCES}/mnist/{{dataset}}.npz"
CACHE = f"{paths.RESOURCES}/mnist/cache"
_RUN = "{variant}/{dataset}/class{held_out}/{run}/seed{seed}"
MODEL = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/model.pt"
HISTORY = f"{paths.result_dir(EXPERIMENT, 'models')}/{_RUN}/history.csv"
CHECKPOINTS = f"{paths.result_dir(EXPERIMENT, 'checkpoints')}/{_RUN}"
TENSORBOARD = f"{paths.result_dir(EXPERIMENT, 'tensorboard')}/{_RUN}"
SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_RUN}.csv"
TABLE1 = paths.table("table1")
TABLE1_SUMMARY = paths.table("table1_summary")


class RunIdError(AnolocError):
    """A string that is not a run id, or a sweep over an unknown parameter."""


@dataclass(frozen=True, order=True)
class RunParams:
    """Hyperparameters and seed of one sample-wise training run."""

    z: int
    log_c: float
    scaling: int
    seed: int


def run_id(p: RunParams) -> str:
    """E.g. `z20_logc1.4_s1` (the seed has its own path level)."""
    return paths.fill(RUN_ID, z=p.z, log_c=f"{p.log_c:g}", scaling=p.scaling)


def parse_run(run: str, seed: int | str) -> RunParams:
    """The `RunParams` of run id `run` and `seed`."""
    try:
        v = paths.parse(RUN_ID, run)
    except AnolocError:
        raise RunIdError(f"not a run id: {run!r} (expected e.g. z20_logc0_s1)") from None
    return RunParams(int(v["z"]), float(v["log_c"]), int(v["scaling"]), int(seed))


def runs_for_class(cfg: Mapping[str, Any], held_out: int) -> list[RunParams]:
    """Default runs on every held-out class; the sweep only on `sweep_classes`; every seed (sorted)."""
    sweep = cfg["sweep"] if held_out in cfg["sweep_classes"] else {}
    d = cfg["defaults"]
    defaults = {"z": int(d["z"]), "log_c": float(d["log_c"]), "scaling": int(d["scaling"])}
    try:
        hps = one_at_a_time(defaults, sweep, SWEEPABLE, "mnist")
    except AnolocError as exc:
        raise RunIdError(str(exc)) from None
    return sorted(RunParams(**hp, seed=int(s)) for hp in hps for s in cfg["seeds"])


def validate(cfg: Mapping[str, Any]) -> None:
    """Parse-time checks the schema cannot express: sweep classes among the held-out classes, finite values."""
    extra = sorted(set(cfg["sweep_classes"]) - set(cfg["held_out_classes"]))
    if extra and any(cfg["sweep"].values()):
        raise AnolocError(
            f"mnist.sweep_classes {extra} are not in mnist.held_out_classes {cfg['held_out_classes']}: the sweep "
            "would silently not run on them; add them to held_out_classes or remove them from sweep_classes"
        )
    values = [("mnist.defaults.log_c", cfg["defaults"]["log_c"])]
    values += [(f"mnist.sweep.{p}", v) for p, vals in cfg["sweep"].items() for v in vals]
    bad = [k for k, v in values if not math.isfinite(float(v))]
    if bad:
        raise AnolocError(f"{', '.join(sorted(set(bad)))}: every value must be a finite number (got NaN or inf)")
    for held_out in cfg["held_out_classes"]:
        runs_for_class(cfg, held_out)  # an unknown sweep parameter is an error here, before any job


def score_files(cfg: Mapping[str, Any]) -> list[str]:
    """Every score CSV of the configured variants, datasets, classes and runs (the inputs of table1)."""
    return [
        paths.fill(SCORES, variant=v, dataset=ds, held_out=k, run=run_id(r), seed=r.seed)
        for v in cfg["variants"]
        for ds in cfg["datasets"]
        for k in cfg["held_out_classes"]
        for r in runs_for_class(cfg, k)
    ]


def parse_score_file(path: Any) -> tuple[str, str, int, RunParams]:
    """(variant, dataset, held-out class, run) of a score file path."""
    v = paths.parse(SCORES, path)
    return v["variant"], v["dataset"], int(v["held_out"]), parse_run(v["run"], v["seed"])


def figure_files(cfg: Mapping[str, Any]) -> list[str]:
    """fig1 always; fig1_sweep when the config sweeps something on at least one class."""
    figs = paths.figure("fig1")
    if any(cfg["sweep"].values()) and cfg["sweep_classes"]:
        figs += paths.figure("fig1_sweep")
    return figs


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table1, its summary, fig1 (+ fig1_sweep)."""
    return [TABLE1, TABLE1_SUMMARY, *figure_files(cfg)]
