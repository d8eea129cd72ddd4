"""DeLong's AUROC variance against a brute-force pairwise computation, scikit-learn and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from anoloc import stats


def brute_components(y: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """V10, V01 by an explicit double loop over (positive, negative) pairs."""
    pos, neg = s[y == 1], s[y == 0]
    psi = np.zeros((pos.size, neg.size))
    for i, x in enumerate(pos):
        for j, z in enumerate(neg):
            psi[i, j] = 1.0 if x > z else 0.5 if x == z else 0.0
    return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)


@pytest.fixture
def tied_data():
    """Two correlated scores with many ties (rounded to one decimal)."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    common = rng.normal(size=60)
    a = np.round(common + 0.9 * y + 0.5 * rng.normal(size=60), 1)
    b = np.round(common + 0.4 * y + 0.5 * rng.normal(size=60), 1)
    return y, a, b


def test_components_match_brute_force_with_ties(tied_data):
    y, a, b = tied_data
    assert len(np.unique(a)) < a.size  # ties present
    auc, v10, v01 = stats.delong_components(y, np.stack([a, b]))
    for k, s in enumerate((a, b)):
        auc_bf, v10_bf, v01_bf = brute_components(y, s)
        np.testing.assert_allclose(v10[k], v10_bf, atol=1e-12)
        np.testing.assert_allclose(v01[k], v01_bf, atol=1e-12)
        assert auc[k] == pytest.approx(auc_bf, abs=1e-12)
        assert auc[k] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_paired_variance_matches_brute_force_formula(tied_data):
    y, a, b = tied_data
    _, v10a, v01a = brute_components(y, a)
    _, v10b, v01b = brute_components(y, b)
    m, n = v10a.size, v01a.size
    cov = np.cov(np.stack([v10a, v10b])) / m + np.cov(np.stack([v01a, v01b])) / n
    var_diff = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    r = stats.delong_paired(y, a, b)
    assert r.estimate == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert r.variance == pytest.approx(var_diff, rel=1e-10)
    z = r.estimate / np.sqrt(var_diff)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-10)
    half = sps.norm.ppf(0.975) * np.sqrt(var_diff)
    assert (r.ci_low, r.ci_high) == pytest.approx((r.estimate - half, r.estimate + half))
    single = stats.delong_auroc(y, a)
    assert single.variance == pytest.approx(cov[0, 0], rel=1e-10)


def test_identical_scores_have_zero_difference_and_p_one(tied_data):
    y, a, _ = tied_data
    r = stats.delong_paired(y, a, a.copy())
    assert r.estimate == 0 and r.variance == pytest.approx(0, abs=1e-15) and r.p_value == 1.0


def test_variance_matches_simulated_sampling_variance():
    """Mean DeLong variance ≈ the variance of the AUROC difference over 800 simulated test sets."""
    rng = np.random.default_rng(7)
    diffs, variances = [], []
    for _ in range(800):
        y = np.r_[np.ones(40, int), np.zeros(60, int)]
        common = rng.normal(size=100)
        a = common + 1.0 * y + rng.normal(size=100)
        b = common + 0.6 * y + rng.normal(size=100)
        r = stats.delong_paired(y, a, b)
        diffs.append(r.estimate)
        variances.append(r.variance)
    assert np.mean(variances) == pytest.approx(np.var(diffs, ddof=1), rel=0.15)


def test_auroc_interval_is_clipped_and_single_class_raises():
    y = np.r_[np.ones(5), np.zeros(5)]
    r = stats.delong_auroc(y, np.arange(10)[::-1])  # perfect separation
    assert r.estimate == 1.0 and r.ci_high == 1.0 and r.ci_low == 1.0
    with pytest.raises(ValueError, match="both classes"):
        stats.delong_auroc(np.ones(5), np.arange(5))


def test_seed_mean_contrast_uses_the_joint_covariance(tied_data):
    """Mean over 2 seeds of AUROC(A_s) − AUROC(B_s): estimate and variance cᵀ Cov c from brute-force components."""
    y, a, b = tied_data
    rng = np.random.default_rng(3)
    a2, b2 = a + np.round(0.3 * rng.normal(size=a.size), 1), b + np.round(0.3 * rng.normal(size=b.size), 1)
    comps = [brute_components(y, s) for s in (a, a2, b, b2)]
    v10, v01 = np.stack([c[1] for c in comps]), np.stack([c[2] for c in comps])
    cov = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    c = np.array([0.5, 0.5, -0.5, -0.5])
    r = stats.delong_paired_seeds(y, [a, a2], [b, b2])
    aucs = np.array([roc_auc_score(y, s) for s in (a, a2, b, b2)])
    assert r.estimate == pytest.approx(c @ aucs, abs=1e-12)
    assert r.variance == pytest.approx(c @ cov @ c, rel=1e-10)
    assert (r.auroc_a, r.auroc_b) == pytest.approx((aucs[:2].mean(), aucs[2:].mean()))
    same = stats.delong_paired_seeds(y, [a, a], [b, b])
    one = stats.delong_paired(y, a, b)
    assert (same.estimate, same.variance) == pytest.approx((one.estimate, one.variance), rel=1e-10)
