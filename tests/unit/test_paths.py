"""anoloc.paths: one wildcard table, templates filled and parsed back, the results layout."""

from __future__ import annotations

import re

import pytest

from anoloc import paths
from anoloc.experiments.brain import layout as brain
from anoloc.experiments.cells import layout as cells
from anoloc.experiments.mnist import layout as mnist
from anoloc.experiments.mvtec import layout as mvtec
from anoloc.scores.names import CELL_VAE_METHODS, KNN_METHODS
from anoloc.utils import AnolocError

TEMPLATES = {
    "mnist": [mnist.MODEL, mnist.HISTORY, mnist.CHECKPOINTS, mnist.TENSORBOARD, mnist.SCORES],
    "brain": [brain.MODEL, brain.CHECKPOINTS, brain.TENSORBOARD, brain.SCORES_BRATS, brain.SCORES_HCP_VAL],
    "cells": [cells.MODEL, cells.CHECKPOINTS, cells.TENSORBOARD, cells.SCORES, cells.PANELS],
    "mvtec": [mvtec.SCORES, mvtec.METRICS, mvtec.PANELS],
}


@pytest.mark.parametrize("experiment", sorted(TEMPLATES))
def test_every_result_lives_under_results_experiment_kind(experiment):
    for template in TEMPLATES[experiment]:
        parts = template.split("/")
        assert parts[0] == "results" and parts[1] == experiment and parts[2] in paths.KINDS, template
        assert all(name in paths.WILDCARDS for name in paths.wildcard_names(template)), template


def test_fill_and_parse_are_inverse():
    values = {"variant": "released", "dataset": "fashion_mnist", "held_out": "3", "run": "z20_logc-1.5_s2", "seed": "1"}
    path = paths.fill(mnist.SCORES, **values)
    assert path == "results/mnist/scores/released/fashion_mnist/class3/z20_logc-1.5_s2/seed1.csv"
    assert paths.parse(mnist.SCORES, path) == values
    assert paths.parse(mnist.SCORES, "/tmp/x/" + path) == values  # a relative template matches a path's end
    with pytest.raises(AnolocError, match="does not match"):
        paths.fill(mnist.SCORES, **{**values, "held_out": "12"})
    with pytest.raises(AnolocError, match="unexpected path"):
        paths.parse(mnist.SCORES, "results/mnist/scores/released/fashion_mnist/class3/z20_s2/seed1.csv")


def test_repeated_wildcards_must_agree():
    t = "a/{seed}/b{seed}.csv"
    assert paths.parse(t, "a/3/b3.csv") == {"seed": "3"}
    with pytest.raises(AnolocError):
        paths.parse(t, "a/3/b4.csv")


def test_partial_keeps_the_other_wildcards():
    assert paths.partial(cells.MODEL, stage="mean") == "results/cells/models/{variant}/seed{seed}/mean/model.pt"
    with pytest.raises(KeyError):
        paths.partial(cells.MODEL, held_out=1)


def test_method_wildcards_come_from_the_names():
    for m in (*KNN_METHODS, *CELL_VAE_METHODS):
        assert re.fullmatch(paths.WILDCARDS["method"], m)
    assert not re.fullmatch(paths.WILDCARDS["knn_method"], "supn_sampled")
    assert re.fullmatch(paths.WILDCARDS["run"], mnist.run_id(mnist.RunParams(5, -1.0, 4, 0)))
    assert re.fullmatch(paths.WILDCARDS["run"], brain.run_id(brain.BrainRun(5, -1.0, 0.5, 0)))
    assert not re.fullmatch(paths.WILDCARDS["variant"], "legacy")


def test_log_and_benchmark_paths():
    log = paths.log_path("mnist_train", "mnist", "class0", "seed1")
    assert log == "results/logs/mnist_train/mnist/class0/seed1.log"
    assert paths.benchmark_path("brain_score", "synthetic") == "results/benchmarks/brain_score/synthetic.tsv"
    assert paths.figure("fig4") == ["results/figures/fig4.png", "results/figures/fig4.pdf"]
