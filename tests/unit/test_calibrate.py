"""Threshold search and patient-level calibration splits, against brute force and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from anoloc.calibrate import (
    best_threshold,
    dice_at,
    dice_at_thresholds,
    dice_sweep,
    healthy_threshold,
    legacy_find_best_val,
    patient_splits,
)
from anoloc.metrics import dice
from anoloc.utils import AnolocError


def _brute_force(labels, scores):
    """Dice of score > t for t at every distinct value and just below the minimum."""
    cands = np.r_[np.unique(scores), np.nextafter(scores.min(), -np.inf)]
    values = [dice(scores > t, labels) for t in cands]
    return max(values)


@pytest.mark.parametrize("seed", range(4))
def test_sweep_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(400) < 0.2
    scores = np.round(rng.normal(size=400) + 1.2 * labels, 1).astype(np.float32)  # many ties
    thresholds, d = dice_sweep(labels, scores)
    assert d.max() == pytest.approx(_brute_force(labels, scores), abs=1e-12)
    for t, v in zip(thresholds, d, strict=True):  # every reported Dice is the Dice of its threshold
        assert v == pytest.approx(dice(scores > t, labels), abs=1e-12)
    np.testing.assert_allclose(dice_at_thresholds(labels, scores, thresholds[::-1]), d[::-1], atol=1e-12)
    thr, best = best_threshold(labels, scores, "exact")
    assert best == pytest.approx(d.max()) and dice_at(labels, scores, thr) == pytest.approx(best)


def test_toy_case_with_known_best_threshold():
    labels = np.array([0, 0, 1, 1, 0, 1, 1, 0], bool)
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.6, 0.7, 0.4, 0.3])
    # cut above 0.6: TP 3, FP 0, FN 1 → 6/7; cut at > 0.35 (take 0.4 too): TP 4, FP 1 → 8/9 (best)
    thr, best = best_threshold(labels, scores, "exact")
    assert best == pytest.approx(8 / 9, abs=1e-6)
    assert 0.3 <= thr < 0.4 and thr == pytest.approx(0.35)
    thr_g, best_g = best_threshold(labels, scores, "grid", n_grid=50)
    assert best_g == pytest.approx(8 / 9, abs=1e-6) and 0.3 <= thr_g < 0.4


def test_grid_close_to_exact_on_large_set():
    rng = np.random.default_rng(0)
    labels = rng.random(200_000) < 0.02
    scores = rng.normal(size=labels.size) + 2.0 * labels
    _, exact = best_threshold(labels, scores, "exact")
    _, grid = best_threshold(labels, scores, "grid", n_grid=2000)
    assert grid <= exact + 1e-12 and grid == pytest.approx(exact, abs=2e-3)


def test_legacy_search_reproduces_bookkeeping_bug():
    rng = np.random.default_rng(1)
    neg = rng.uniform(0.0, 0.7, 900)
    pos = rng.uniform(0.88, 0.9, 100)
    scores, labels = np.r_[neg, pos], np.r_[np.zeros(900, bool), np.ones(100, bool)]
    top = scores.max()
    # step 1 on [0, max]: the upper quarter point wins, but the lower point's Dice and threshold are recorded
    assert dice(scores > 0.75 * top, labels) > dice(scores > 0.25 * top, labels)
    d1, t1 = legacy_find_best_val(labels, scores, max_steps=1)
    assert t1 == pytest.approx(0.25 * top) and d1 == pytest.approx(dice(scores > 0.25 * top, labels), abs=1e-5)
    # step 2 on [max/2, max]: the upper point (perfect) wins again, the lower one (0.625·max) is recorded
    d2, t2 = legacy_find_best_val(labels, scores, max_steps=2)
    assert dice(scores > 0.875 * top, labels) == pytest.approx(1.0, abs=1e-6)
    assert t2 == pytest.approx(0.625 * top) and d2 < 1.0 - 1e-3
    _, d_exact = best_threshold(labels, scores, "exact")
    assert d_exact == pytest.approx(1.0, abs=1e-6)
    d8, t8 = legacy_find_best_val(labels, scores)  # the default 8 steps
    assert best_threshold(labels, scores, "legacy") == (pytest.approx(t8), pytest.approx(d8))
    assert d8 <= d_exact + 1e-9


def test_patient_splits():
    subjects = [f"p{i:02d}" for i in range(23)]
    splits = patient_splits(subjects * 3, n_splits=7, calib_fraction=0.2, seed=4)
    assert len(splits) == 7
    for calib, evaluation in splits:
        assert not set(calib) & set(evaluation) and set(calib) | set(evaluation) == set(subjects)
        assert len(calib) in (4, 5)
    first_fold = [set(c) for c, _ in splits[:5]]  # the first k splits calibrate on disjoint patients
    assert set().union(*first_fold) == set(subjects) and sum(map(len, first_fold)) == 23
    assert splits == patient_splits(subjects, 7, 0.2, 4)  # deterministic
    assert splits != patient_splits(subjects, 7, 0.2, 5)
    with pytest.raises(AnolocError, match="at least 5"):
        patient_splits(["a", "b", "c"], 1)


def test_healthy_threshold_percentile():
    values = np.arange(1001, dtype=float)
    assert healthy_threshold(values, 99.0) == pytest.approx(990.0)
    with pytest.raises(AnolocError, match="no healthy"):
        healthy_threshold([], 99.0)


def test_pooled_curves_match_scikit_learn_and_subset_orders():
    from sklearn import metrics as skm

    from anoloc.metrics import pooled_curves

    rng = np.random.default_rng(3)
    labels = rng.random(20_000) < 0.05
    scores = np.round(rng.normal(size=labels.size) + 1.5 * labels, 2).astype(np.float32)  # ties
    c = pooled_curves(labels, scores)
    assert c["auroc"] == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert c["ap"] == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
    fpr, tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(
        np.interp(np.linspace(0, 1, 50), c["fpr"], c["tpr"]), np.interp(np.linspace(0, 1, 50), fpr, tpr), atol=1e-12
    )
    # a subset of one global descending order gives the subset's own metrics and Dice sweep
    order = np.argsort(scores, kind="stable")[::-1]
    subset = rng.random(labels.size) < 0.3
    sub_order = order[subset[order]]
    assert pooled_curves(labels, scores, sub_order)["auroc"] == pytest.approx(
        skm.roc_auc_score(labels[subset], scores[subset]), abs=1e-12
    )
    t1, d1 = dice_sweep(labels, scores, sub_order)
    t2, d2 = dice_sweep(labels[subset], scores[subset])
    np.testing.assert_allclose(t1, t2)
    np.testing.assert_allclose(d1, d2)
    assert np.isnan(pooled_curves(np.zeros(5, bool), np.arange(5.0))["auroc"])
