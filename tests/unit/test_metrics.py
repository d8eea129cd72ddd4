"""Metrics against scikit-learn and textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from anoloc import metrics


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + 0.8 * y
    return y, s


def test_auroc_and_ap_match_sklearn(data):
    y, s = data
    assert metrics.auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert metrics.average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    p, r, _ = precision_recall_curve(y, s)
    assert metrics.auprc_trapezoid(y, s) == pytest.approx(auc(r, p))


def test_auroc_is_mann_whitney_probability(data):
    y, s = data
    pos, neg = s[y == 1], s[y == 0]
    pairwise = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert metrics.auroc(y, s) == pytest.approx(pairwise)


def test_perfect_and_single_class():
    assert metrics.auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.average_precision([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert np.isnan(metrics.auroc([1, 1], [0.1, 0.2]))


def test_rejects_non_finite_scores():
    with pytest.raises(ValueError, match="not finite"):
        metrics.auroc([0, 1], [0.0, np.nan])


def test_dice():
    pred = np.array([1, 1, 0, 0, 1], bool)
    target = np.array([1, 0, 0, 1, 1], bool)
    assert metrics.dice(pred, target) == pytest.approx(2 * 2 / (3 + 3), abs=1e-6)
    assert metrics.dice(np.zeros(4), np.zeros(4)) == pytest.approx(1.0)
