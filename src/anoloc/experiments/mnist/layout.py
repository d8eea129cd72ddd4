"""Layout of the sample-wise (Fashion)MNIST experiment: runs, path templates, targets (torch-free).

A run is one (z, log c, scaling s); its id (`anoloc.paths.RUN_ID`, e.g. `z20_logc1.4_s1`) names its folders and
it is trained once per (dataset, held-out class, seed). Sweeps vary one hyperparameter at a time around the
defaults, on the classes of `sweep_classes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from anoloc import paths
from anoloc.utils import AnolocError

EXPERIMENT = "mnist"
SWEEPABLE = ("z", "log_c", "scaling")

DATA = f"{paths.RESOURCES}/mnist/{{dataset}}.npz"
CACHE = f"{paths.RESOURCES}/mnist/cache"
_RUN = "{dataset}/class{held_out}/{run}/seed{seed}"
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
    return paths.fill(paths.RUN_ID, z=p.z, log_c=f"{p.log_c:g}", scaling=p.scaling)


def parse_run(run: str, seed: int | str) -> RunParams:
    """The `RunParams` of run id `run` and `seed`."""
    try:
        v = paths.parse(paths.RUN_ID, run)
    except AnolocError:
        raise RunIdError(f"not a run id: {run!r} (expected e.g. z20_logc0_s1)") from None
    return RunParams(int(v["z"]), float(v["log_c"]), int(v["scaling"]), int(seed))


def sweep_runs(
    defaults: Mapping[str, Any], sweep: Mapping[str, Sequence[Any]], seeds: Iterable[int]
) -> list[RunParams]:
    """The default run plus one-parameter-at-a-time variants around it, for every seed (deduplicated)."""
    unknown = set(sweep) - set(SWEEPABLE)
    if unknown:
        raise RunIdError(f"mnist.sweep: cannot sweep {sorted(unknown)}; sweepable: {SWEEPABLE}")
    base = RunParams(int(defaults["z"]), float(defaults["log_c"]), int(defaults["scaling"]), 0)
    variants = [base] + [replace(base, **{k: type(getattr(base, k))(v)}) for k, vals in sweep.items() for v in vals]
    return sorted({replace(v, seed=int(s)) for v in variants for s in seeds})


def runs_for_class(cfg: Mapping[str, Any], held_out: int) -> list[RunParams]:
    """Default runs on every held-out class; the sweep only on `sweep_classes`."""
    sweep = cfg["sweep"] if held_out in cfg["sweep_classes"] else {}
    return sweep_runs(cfg["defaults"], sweep, cfg["seeds"])


def score_files(cfg: Mapping[str, Any]) -> list[str]:
    """Every score CSV of the configured datasets, classes and runs (the inputs of table1)."""
    return [
        paths.fill(SCORES, dataset=ds, held_out=k, run=run_id(r), seed=r.seed)
        for ds in cfg["datasets"]
        for k in cfg["held_out_classes"]
        for r in runs_for_class(cfg, k)
    ]


def parse_score_file(path: Any) -> tuple[str, int, RunParams]:
    """(dataset, held-out class, run) of a score file path."""
    v = paths.parse(SCORES, path)
    return v["dataset"], int(v["held_out"]), parse_run(v["run"], v["seed"])


def figure_files(cfg: Mapping[str, Any]) -> list[str]:
    """fig1 always; fig1_sweep when the config sweeps something on at least one class."""
    figs = paths.figure("fig1")
    if any(cfg["sweep"].values()) and cfg["sweep_classes"]:
        figs += paths.figure("fig1_sweep")
    return figs


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table1, its summary, fig1 (+ fig1_sweep)."""
    return [TABLE1, TABLE1_SUMMARY, *figure_files(cfg)]
