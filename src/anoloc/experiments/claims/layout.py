"""Layout of the claims ledger: its outputs, the files each claim reads, and what it needs of the config
(torch-free).

The ledger (`results/tables/claims.csv`, figure `results/figures/claims.{png,pdf}`) is computed only from saved
score files and tables of the other experiments, so it is rebuilt like a figure, never by retraining. Its inputs
follow the enabled experiments: a claim whose experiment is disabled (or whose data cannot support it, e.g. MVTec
without the real dataset and the published backbone) reads nothing and is reported `not measured`.

What each group of claims reads:
- Zimmerer, (Fashion)MNIST: every mnist score CSV (`results/mnist/scores/<variant>/<dataset>/class<k>/<run>/…`);
- Zimmerer, BraTS: every BraTS score file of the brain runs, table2 (oracle Dice thresholds), table3 (calibration);
- Vodenicharski, cells: the six VAE methods' cell score CSVs, and the kNN methods' when `mvtec.cells` runs;
- Vodenicharski, MVTec: the per-image score CSVs of every (class, kNN method) and table5 — only for real MVTec AD,
  all 15 classes, backbone `wide_resnet50_2`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anoloc import paths
from anoloc.data.mvtec import MVTEC_CLASSES
from anoloc.experiments.brain import layout as brain_layout
from anoloc.experiments.cells import layout as cells_layout
from anoloc.experiments.mnist import layout as mnist_layout
from anoloc.experiments.mvtec import layout as mvtec_layout

EXPERIMENT = "claims"
TABLE = paths.table("claims")
FIGURE = paths.figure("claims")
PUBLISHED_BACKBONE = "wide_resnet50_2"  # the backbone of the published SPADE / PaDiM / PatchCore numbers
INPUT_KEYS = (
    "mnist_scores",
    "brain_scores",
    "table2",
    "table3",
    "cells_scores",
    "knn_scores",
    "mvtec_scores",
    "table5",
)


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: the ledger and its figure."""
    return [TABLE, *FIGURE]


def mvtec_missing(config: Mapping[str, Any]) -> str | None:
    """Why the MVTec claims cannot be measured with this config (None when they can): they compare with published
    averages over the 15 MVTec AD classes computed with `wide_resnet50_2`."""
    mv = config["mvtec"]
    if not mv["enabled"]:
        return "mvtec.enabled is false: no MVTec run"
    dataset, backbone = mv.get("dataset") or {}, mv.get("backbone") or {}
    if dataset.get("source") != "download":
        return (
            f"mvtec.dataset.source is {dataset.get('source')!r}: the run used the offline texture stand-in, not "
            "real MVTec AD (set source: download, as config/paper.yaml)"
        )
    if backbone.get("name") != PUBLISHED_BACKBONE:
        return (
            f"mvtec.backbone.name is {backbone.get('name')!r}: the published numbers use {PUBLISHED_BACKBONE} "
            "(as config/paper.yaml)"
        )
    missing = sorted(set(MVTEC_CLASSES) - set(dataset.get("classes", [])))
    if missing:
        return f"mvtec.dataset.classes lacks {missing}: the published numbers are averages over all 15 classes"
    return None


def cells_knn_missing(config: Mapping[str, Any]) -> str | None:
    """Why the kNN methods have no cell scores (None when they have)."""
    if not cells_layout.knn_enabled(config):
        return "mvtec.cells.enabled (or mvtec.enabled) is false: the kNN methods did not score the cells"
    return None


def inputs(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The files the ledger reads, by kind (keys `INPUT_KEYS`; empty lists for disabled experiments)."""
    files: dict[str, list[str]] = {k: [] for k in INPUT_KEYS}
    if config["mnist"]["enabled"]:
        files["mnist_scores"] = mnist_layout.score_files(config["mnist"])
    if config["brain"]["enabled"]:
        files["brain_scores"] = brain_layout.score_files(config["brain"], "brats")
        files["table2"], files["table3"] = [brain_layout.TABLE2], [brain_layout.TABLE3]
    if config["cells"]["enabled"]:
        files["cells_scores"] = cells_layout.vae_score_files(config["cells"])
        files["knn_scores"] = cells_layout.knn_score_files(config)
    if mvtec_missing(config) is None:
        mv = config["mvtec"]
        files["mvtec_scores"] = [
            paths.fill(mvtec_layout.SCORES, category=c, knn_method=m)
            for c in mv["dataset"]["classes"]
            for m in mv["methods"]
        ]
        files["table5"] = [mvtec_layout.TABLE5]
    return files


def _mnist_data(ds: str, spec: Mapping[str, Any]) -> str:
    name = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}.get(ds, ds)
    return f"{name} ({spec['source']})"


def _mvtec_data(mv: Mapping[str, Any]) -> str:
    source = (mv.get("dataset") or {}).get("source", "synthetic")  # a disabled section may lack these keys
    backbone = (mv.get("backbone") or {}).get("name", "?")
    return f"{'MVTec AD' if source == 'download' else 'MVTec stand-in (textures)'}, {backbone}"


def context(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the ledger needs of the config besides the files (a rule's params: small, so that unrelated changes do
    not rerun it): which experiments ran, their variants, default hyperparameters and data sources, and why the
    claims that cannot be measured are not."""
    mn, br, ce, mv = (config[k] for k in ("mnist", "brain", "cells", "mvtec"))
    return {
        "mnist": {
            "enabled": bool(mn["enabled"]),
            "variants": list(mn["variants"]),
            "data": {ds: _mnist_data(ds, spec) for ds, spec in mn["datasets"].items()},
            "defaults": {k: mn["defaults"][k] for k in ("z", "log_c", "scaling")},
        },
        "brain": {
            "enabled": bool(br["enabled"]),
            "variants": list(br["variants"]),
            "data": "synthetic BraTS-like cohort"
            if br["data"]["source"] == "synthetic"
            else "BraTS 2017 (HCP-trained)",
            "defaults": {"z": br["model"]["z"], "log_c": br["model"]["log_c"], "width": 1.0},
        },
        "cells": {
            "enabled": bool(ce["enabled"]),
            "variants": list(ce["variants"]),
            "data": "synthetic cells" if ce["data"]["source"] == "synthetic" else "real FL cells",
            "knn_missing": cells_knn_missing(config),
        },
        "mvtec": {
            "missing": mvtec_missing(config),
            "methods": list(mv["methods"]),
            "data": _mvtec_data(mv),
        },
    }
