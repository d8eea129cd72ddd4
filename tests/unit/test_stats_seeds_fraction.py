"""Combining seeds and the fraction-of-cells-won statistics on constructed data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from anoloc import stats


# ------------------------------------------------------------------------------------------------ seeds
def test_combine_replicates_with_shared_noise_shifts_the_noise_quantiles():
    """Replicates e_s + σ·Z with one Z for all seeds: the mean's interval is mean(e) + σ·quantiles(Z)."""
    z = np.random.default_rng(0).normal(size=4000)
    e = np.array([0.02, 0.05, 0.08])
    r = stats.combine_replicates(e, e[:, None] + 0.01 * z[None, :])
    assert r.estimate == pytest.approx(0.05)
    assert r.ci_low == pytest.approx(0.05 + 0.01 * np.quantile(z, 0.025))
    assert r.ci_high == pytest.approx(0.05 + 0.01 * np.quantile(z, 0.975))
    assert r.standard_error == pytest.approx(0.01 * np.std(z, ddof=1))
    assert r.seed_sd == pytest.approx(0.03)
    assert r.n_seeds == 3


def test_combine_replicates_with_independent_noise_shrinks_by_sqrt_seeds():
    rng = np.random.default_rng(1)
    reps = 0.1 + 0.02 * rng.normal(size=(4, 20000))
    r = stats.combine_replicates(np.full(4, 0.1), reps)
    assert r.standard_error == pytest.approx(0.02 / 2, rel=0.03)
    assert r.ci_high - r.ci_low == pytest.approx(2 * 1.95996 * 0.01, rel=0.05)
    assert r.p_value == pytest.approx(2 / 20001)  # no mean replicate is ≤ 0


def test_combine_replicates_equals_bootstrapping_the_seed_mean():
    """Per-seed bootstraps with the same seed, averaged index-wise = one bootstrap of `seed_mean`."""
    rng = np.random.default_rng(2)
    y = rng.random((25, 80)) < 0.15
    groups = np.arange(25)
    diffs, results = [], []
    for shift in (0.2, 0.5, 0.9):
        a = rng.normal(size=y.shape) + (1 + shift) * y
        b = rng.normal(size=y.shape) + y
        d = stats.Difference(
            stats.pooled_statistic(y, a, groups, metric="auroc"), stats.pooled_statistic(y, b, groups, metric="auroc")
        )
        diffs.append(d)
        results.append(stats.group_bootstrap(d, n_resamples=400, seed=5))
    direct = stats.group_bootstrap(stats.seed_mean(diffs), n_resamples=400, seed=5)
    combined = stats.combine_replicates([r.estimate for r in results], np.stack([r.replicates for r in results]))
    assert combined.estimate == pytest.approx(direct.estimate)
    assert (combined.ci_low, combined.ci_high) == pytest.approx((direct.ci_low, direct.ci_high))
    assert combined.p_value == pytest.approx(direct.p_value)


def test_paired_bootstrap_seeds_of_identical_seeds_equals_one_seed():
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    a, b = rng.normal(size=300) + y, rng.normal(size=300) + 0.5 * y
    one = stats.paired_bootstrap(y, a, b, n_resamples=300, seed=1)
    two = stats.paired_bootstrap_seeds(y, [a, a], [b, b], n_resamples=300, seed=1)
    np.testing.assert_allclose(two.replicates, one.replicates)
    assert (two.ci_low, two.ci_high, two.estimate) == pytest.approx((one.ci_low, one.ci_high, one.estimate))
    assert "mean of 2 seeds" in two.test


def test_inverse_variance_known_answers():
    r = stats.combine_inverse_variance([0.1, 0.3], [0.01, 0.01])
    assert r.estimate == pytest.approx(0.2)
    assert r.standard_error == pytest.approx(np.sqrt(0.005))
    w = np.array([1 / 0.01, 1 / 0.04])
    r = stats.combine_inverse_variance([0.1, 0.3], [0.01, 0.04])
    assert r.estimate == pytest.approx((0.1 * w[0] + 0.3 * w[1]) / w.sum())
    assert r.standard_error == pytest.approx(np.sqrt(1 / w.sum()))
    assert (r.ci_low, r.ci_high) == pytest.approx(
        (r.estimate - 1.959964 * r.standard_error, r.estimate + 1.959964 * r.standard_error), rel=1e-6
    )
    assert r.p_value == pytest.approx(2 * sps.norm.sf(r.estimate / r.standard_error))
    assert stats.combine_inverse_variance([0.2, 0.2, 0.2], [0.01] * 3).heterogeneity_p == pytest.approx(1.0)
    assert stats.combine_inverse_variance([0.0, 1.0], [1e-4, 1e-4]).heterogeneity_p < 1e-6
    with pytest.raises(ValueError, match="positive variances"):
        stats.combine_inverse_variance([0.1, 0.2], [0.01, 0.0])


# ------------------------------------------------------------------------------------------ fraction won
def test_holm_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # sorted 0.005, 0.01, 0.03, 0.04 × (4, 3, 2, 1) = 0.02, 0.03, 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02, np.nan])
    assert stats.holm([0.5, 0.9])[1] == 1.0


def test_fraction_won_counts_interval_and_sign_test():
    d = np.array([0.05, 0.02, 0.01, 0.03, -0.01, 0.04, 0.0, 0.02, 0.06, 0.01, np.nan])
    r = stats.fraction_won(d)
    assert (r.n_cells, r.n_won, r.n_lost, r.n_tied) == (10, 8, 1, 1)
    assert r.fraction == pytest.approx(0.8)
    ci = sps.binomtest(8, 10).proportion_ci(method="exact")
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    assert r.p_value == pytest.approx(sps.binom.sf(7, 10, 0.5))  # P(X ≥ 8)
    assert (r.n_significant_won, r.n_significant_lost) == (0, 0)
    wilson = stats.fraction_won(d, interval="wilson")
    assert wilson.ci_low > r.ci_low  # Wilson is narrower here


def test_fraction_won_significance_from_p_values_and_intervals():
    d = np.array([0.1, 0.1, 0.1, -0.1])
    p = np.array([0.001, 0.02, 0.2, 0.004])
    holm = stats.fraction_won(d, p_values=p)  # Holm: 0.004, 0.04, 0.2, 0.012
    assert (holm.n_significant_won, holm.n_significant_lost) == (2, 1)
    raw = stats.fraction_won(d, p_values=p, adjust="none")
    assert (raw.n_significant_won, raw.n_significant_lost) == (2, 1)
    strict = stats.fraction_won(d, p_values=p, alpha=0.01)
    assert (strict.n_significant_won, strict.n_significant_lost) == (1, 0)
    by_ci = stats.fraction_won(d, ci_low=[0.05, -0.01, 0.02, -0.2], ci_high=[0.2, 0.2, 0.3, -0.02])
    assert (by_ci.n_significant_won, by_ci.n_significant_lost) == (2, 1)
    empty = stats.fraction_won([np.nan])
    assert empty.n_cells == 0 and np.isnan(empty.fraction)
