"""Run identities and output paths of the sample-wise experiment (pure Python, imported by the rules).

A run is one (z, log c, scaling s, seed); its id, e.g. `z20_logc1.4_s1_seed123`, names its folders and
the rules parse it back. Sweeps vary one parameter at a time around the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

SWEEPABLE = ("z", "log_c", "scaling")
RUN_ID_RE = re.compile(r"z(?P<z>\d+)_logc(?P<log_c>-?\d+(?:\.\d+)?)_s(?P<scaling>\d+)_seed(?P<seed>\d+)")


class RunIdError(ValueError):
    """A string that is not a run id, or a sweep over an unknown parameter."""


@dataclass(frozen=True, order=True)
class RunParams:
    """Hyperparameters that identify one sample-wise run."""

    z: int
    log_c: float
    scaling: int
    seed: int


def run_id(p: RunParams) -> str:
    """E.g. `z20_logc1.4_s1_seed123` (log c printed with `%g`)."""
    return f"z{p.z}_logc{p.log_c:g}_s{p.scaling}_seed{p.seed}"


def parse_run_id(text: str) -> RunParams:
    m = RUN_ID_RE.fullmatch(text)
    if m is None:
        raise RunIdError(f"not a run id: {text!r} (expected e.g. z20_logc0_s1_seed123)")
    return RunParams(int(m["z"]), float(m["log_c"]), int(m["scaling"]), int(m["seed"]))


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
    sweep = cfg.get("sweep", {}) if held_out in cfg.get("sweep_classes", []) else {}
    return sweep_runs(cfg["defaults"], sweep, cfg["seeds"])


# ------------------------------------------------------------------------------ workflow paths
MNIST_MODEL_DIR = "results/mnist/models/{dataset}/class{held_out}/{mnist_run}"
MNIST_SCORES = "results/scores/mnist/{dataset}/class{held_out}/{mnist_run}.csv"


def mnist_score_files(cfg: Mapping[str, Any]) -> list[str]:
    """Every score CSV of the configured datasets, classes and runs (the inputs of table1)."""
    return [
        MNIST_SCORES.format(dataset=ds, held_out=k, mnist_run=run_id(r))
        for ds in cfg["datasets"]
        for k in cfg["held_out_classes"]
        for r in runs_for_class(cfg, k)
    ]


def mnist_figure_files(cfg: Mapping[str, Any]) -> list[str]:
    """fig1 always; fig1_sweep when the config sweeps something on at least one class."""
    figs = ["results/figures/fig1.png", "results/figures/fig1.pdf"]
    if any(cfg["sweep"].values()) and cfg["sweep_classes"]:
        figs += ["results/figures/fig1_sweep.png", "results/figures/fig1_sweep.pdf"]
    return figs
