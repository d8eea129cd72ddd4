"""The file layout every experiment shares (pure Python: imported by the rules and the library).

Every experiment keeps its outputs under `results/<experiment>/<kind>/…` with the same kinds:

| kind          | holds                                                        |
|---------------|--------------------------------------------------------------|
| `models`      | trained models (`model.pt` + `history.csv`)                  |
| `checkpoints` | resumable training state (one folder per training run)       |
| `tensorboard` | TensorBoard scalars of every training run                    |
| `scores`      | per-sample (or per-pixel) scores of every scored run         |
| `metrics`     | per-run metrics where the scoring job computes them (MVTec)  |
| `panels`      | arrays a figure is drawn from (fig4 maps, fig6 examples)     |

Inputs (downloaded, generated or prepared data) live under `resources/<experiment>/…`; the tables and figures a
reader asks for under `results/tables/` and `results/figures/`; one log per job under `results/logs/<rule>/…` and
one time/memory record per training or scoring job under `results/benchmarks/<rule>/…`.

Path templates use Snakemake's `{wildcard}` syntax. `WILDCARDS` holds the one regular expression of every wildcard
name used anywhere (the rules declare them as Snakemake's global wildcard constraints), so `fill` and `parse`
agree with Snakemake on what a path may contain.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from anoloc.data.brain.layouts import SUBJECT_NAME
from anoloc.scores.names import (
    CELL_INFERENCES,
    CELL_STAGES,
    CELL_VAE_METHODS,
    CELL_VAE_MODELS,
    KNN_METHODS,
    MATRIX_DATASETS,
    MATRIX_JOBS,
)
from anoloc.utils import AnolocError
from anoloc.variants import VARIANTS

RESULTS = "results"
RESOURCES = "resources"
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
KINDS = ("models", "checkpoints", "tensorboard", "scores", "metrics", "panels")

_NAMES = {  # wildcards whose values are the names of `anoloc.scores.names`
    "stage": CELL_STAGES,
    "precision": CELL_STAGES[1:],
    "model": CELL_VAE_MODELS,
    "inference": CELL_INFERENCES,
    "method": KNN_METHODS + CELL_VAE_METHODS,
    "knn_method": KNN_METHODS,
    "matrix_dataset": MATRIX_DATASETS,
    "matrix_method": MATRIX_JOBS,
}
WILDCARDS: dict[str, str] = {
    "seed": r"\d+",
    "step": r"\d+",  # cells learning curve: a requested optimiser step count (`cells.curve.steps`)
    "dataset": "mnist|fashion_mnist|hcp|brats",
    "held_out": "[0-9]",
    "z": r"\d+",
    "log_c": r"-?\d+(?:\.\d+)?",
    "scaling": r"\d+",
    "width": r"\d+(?:\.\d+)?",
    "variant": "|".join(VARIANTS),
    "cohort": "synthetic|real",
    "subject": SUBJECT_NAME.pattern,
    "grade": "HGG|LGG",
    "category": "[A-Za-z0-9_]+",
    "subset": "[A-Za-z0-9_]+",  # matrix: a held-out class (`class3`), an MVTec category, or `all`
    "weights_file": r"[\w.-]+\.pth",
    **{name: "|".join(values) for name, values in _NAMES.items()},
}
# Run ids name a run's hyperparameters in its paths (values printed with `%g`): sample-wise (Fashion)MNIST
# `z20_logc1.4_s1` (latent size, log c, scaling factor); brain `z256_logc0_w1` (latent size, log c, width factor).
RUN_IDS = {"mnist": "z{z}_logc{log_c}_s{scaling}", "brain": "z{z}_logc{log_c}_w{width}"}
WILDCARDS["run"] = "|".join(
    t.format(**{k: f"(?:{WILDCARDS[k]})" for _, k, _, _ in string.Formatter().parse(t) if k}) for t in RUN_IDS.values()
)


def result_dir(experiment: str, kind: str) -> str:
    """`results/<experiment>/<kind>` for one of `KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"unknown results kind {kind!r}; one of {KINDS}")
    return f"{RESULTS}/{experiment}/{kind}"


def table(name: str) -> str:
    """`results/tables/<name>.csv`."""
    return f"{TABLES}/{name}.csv"


def figure(name: str) -> list[str]:
    """`results/figures/<name>.png` and `.pdf` (every figure is written in both formats)."""
    return [f"{FIGURES}/{name}.png", f"{FIGURES}/{name}.pdf"]


def log_path(rule: str, *parts: Any) -> str:
    """`results/logs/<rule>/<parts…>.log`."""
    return str(Path(RESULTS, "logs", rule, *map(str, parts))) + ".log"


def benchmark_path(rule: str, *parts: Any) -> str:
    """`results/benchmarks/<rule>/<parts…>.tsv`."""
    return str(Path(RESULTS, "benchmarks", rule, *map(str, parts))) + ".tsv"


def wildcard_names(template: str) -> list[str]:
    """The `{wildcard}` names of a template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fill(template: str, **values: Any) -> str:
    """The template with every wildcard replaced; each value must match its pattern in `WILDCARDS`."""
    for name in wildcard_names(template):
        if name not in values:
            raise KeyError(f"{template}: no value for {{{name}}}")
        if not re.fullmatch(WILDCARDS[name], str(values[name])):
            raise AnolocError(f"{template}: {name}={values[name]!r} does not match {WILDCARDS[name]!r}")
    return template.format(**values)


def partial(template: str, **values: Any) -> str:
    """The template with the given wildcards replaced (checked as in `fill`) and the others kept as `{name}`."""
    names = wildcard_names(template)
    unknown = set(values) - set(names)
    if unknown:
        raise KeyError(f"{template}: no wildcard {sorted(unknown)}")
    for name, value in values.items():
        if not re.fullmatch(WILDCARDS[name], str(value)):
            raise AnolocError(f"{template}: {name}={value!r} does not match {WILDCARDS[name]!r}")
    return template.format(**{n: "{" + n + "}" for n in names if n not in values}, **values)


def _regex(template: str) -> re.Pattern[str]:
    out, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if name:
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{WILDCARDS[name]})")
            seen.add(name)
    return re.compile("".join(out))


def parse(template: str, path: Any) -> dict[str, str]:
    """The wildcard values of `path` under `template` (the inverse of `fill`); raises AnolocError otherwise.

    A relative template also matches the end of a longer path (e.g. the same file below another working folder).
    """
    posix = Path(path).as_posix()
    m = _regex(template).fullmatch(posix)
    if m is None and not template.startswith("/"):
        m = re.search(f"(?:^|/)(?:{_regex(template).pattern})$", posix)
    if m is None:
        raise AnolocError(f"unexpected path {path} (expected {template})")
    return m.groupdict()
