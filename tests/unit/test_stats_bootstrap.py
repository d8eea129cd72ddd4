"""The grouped paired bootstrap: group-weighted metrics against scikit-learn on explicitly repeated data,
the binning bound against the exact computation, and the resampling against scipy.stats.bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from anoloc import stats


def auprc_sklearn(y, s):
    p, r, _ = precision_recall_curve(y, s)
    return auc(r, p)


SKLEARN = {"auroc": roc_auc_score, "ap": average_precision_score, "auprc": auprc_sklearn}


@pytest.fixture
def pixels():
    """12 'patients' × 5 'slices' of 6×6 pixels, ~10 % positives, scores with ties (rounded)."""
    rng = np.random.default_rng(0)
    y = rng.random((60, 6, 6)) < 0.1
    s = np.round(rng.normal(size=(60, 6, 6)) + 1.2 * y, 1)
    patient = np.repeat(np.arange(12), 5)
    return y, s, patient


@pytest.mark.parametrize("metric", ["auroc", "ap", "auprc"])
def test_group_weights_equal_repeating_the_groups(pixels, metric):
    """metric(w) = the scikit-learn metric on the data with group g repeated w_g times."""
    y, s, patient = pixels
    stat = stats.pooled_statistic(y, s, patient, metric=metric)
    assert stat.counts.exact and stat.approx_bound == 0.0
    rng = np.random.default_rng(1)
    weights = rng.integers(0, 3, size=(6, 12)).astype(float)
    weights[0] = 1.0
    got = stat(weights)
    for w, g in zip(weights, got, strict=True):
        rows = np.repeat(np.arange(60), w[patient].astype(int))
        assert g == pytest.approx(SKLEARN[metric](y[rows].ravel(), s[rows].ravel()), abs=1e-12)


def test_dice_weights_equal_repeating_the_groups(pixels):
    y, s, patient = pixels
    stat = stats.pooled_statistic(y, s, patient, metric="dice", threshold=0.75)
    w = np.array([[1.0] * 12, [2, 0, 1, 3, 0, 1, 1, 0, 2, 1, 0, 1]])
    for wi, g in zip(w, stat(w), strict=True):
        rows = np.repeat(np.arange(60), wi[patient].astype(int))
        p, t = s[rows] > 0.75, y[rows]
        assert g == pytest.approx((2 * np.sum(p & t) + 1e-6) / (p.sum() + t.sum() + 1e-6), rel=1e-12)


def test_groups_per_row_equal_groups_per_element(pixels):
    y, s, patient = pixels
    per_row = stats.pooled_statistic(y, s, patient, metric="ap")
    per_element = stats.pooled_statistic(y, s, np.broadcast_to(patient[:, None, None], y.shape), metric="ap")
    w = np.random.default_rng(2).integers(0, 3, size=(4, 12)).astype(float)
    np.testing.assert_array_equal(per_row(w), per_element(w))


def test_sparse_path_for_many_groups_matches_sklearn():
    """One group per sample with 5000 distinct scores takes the sparse count matrices."""
    rng = np.random.default_rng(3)
    y = rng.random(5000) < 0.3
    s = rng.normal(size=5000) + y
    stat = stats.pooled_statistic(y, s, metric="auroc")
    from scipy import sparse

    assert sparse.issparse(stat.counts.pos) and stat.counts.exact
    w = rng.integers(0, 2, size=(2, 5000)).astype(float)
    for wi, g in zip(w, stat(w), strict=True):
        keep = wi > 0
        assert g == pytest.approx(roc_auc_score(y[keep], s[keep]), abs=1e-12)


@pytest.mark.parametrize("metric", ["auroc", "ap", "auprc"])
def test_binned_levels_stay_within_the_bound(metric):
    """Forced binning (64 levels) on continuous scores: |binned − exact| ≤ the computed bound, per resample."""
    rng = np.random.default_rng(4)
    y = rng.random((30, 400)) < 0.05
    s = rng.normal(size=(30, 400)) + 1.5 * y
    exact = stats.pooled_statistic(y, s, np.arange(30), metric=metric)
    binned = stats.pooled_statistic(y, s, np.arange(30), metric=metric, max_levels=64, exact_up_to=0)
    assert exact.counts.exact and not binned.counts.exact and binned.counts.n_levels <= 64
    w = np.vstack([np.ones(30), rng.integers(0, 3, size=(40, 30))]).astype(float)
    err = np.abs(binned(w) - exact(w))
    bound = stats.binning_bound(w @ binned.counts.pos, w @ binned.counts.neg, metric)
    assert np.all(err <= bound + 1e-12)
    assert binned.approx_bound == pytest.approx(bound[0])
    assert err.max() > 0  # the approximation is real here, so the check above has teeth


def test_binning_is_exact_on_discrete_scores():
    """Few distinct values: the quantile edges hit every value, so the binned path is exact."""
    rng = np.random.default_rng(5)
    y = rng.random(5000) < 0.2
    s = rng.integers(0, 20, 5000) + 3 * y
    stat = stats.pooled_statistic(y, s.astype(float), np.arange(5000) // 50, metric="ap", exact_up_to=0)
    assert stat.counts.exact and stat.approx_bound == 0.0
    assert stat(np.ones((1, 100)))[0] == pytest.approx(average_precision_score(y, s), abs=1e-12)


@dataclass(frozen=True)
class GroupMean:
    """Mean of one value per group, as a GroupStatistic."""

    values: np.ndarray

    @property
    def n_groups(self) -> int:
        return self.values.size

    def __call__(self, weights):
        w = np.atleast_2d(weights)
        return w @ self.values / w.sum(axis=1)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_group_bootstrap_equals_scipy_on_the_group_values(method):
    """Resampling groups via weights = scipy.stats.bootstrap resampling the groups' values directly."""
    v = np.random.default_rng(6).gamma(2.0, size=40)
    ours = stats.group_bootstrap(GroupMean(v), n_resamples=999, seed=11, method=method, batch=100)
    ref = sps.bootstrap(
        (v,), np.mean, n_resamples=999, batch=100, method=method, rng=np.random.default_rng(11), vectorized=True
    )
    assert ours.estimate == pytest.approx(v.mean())
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    np.testing.assert_allclose(ours.replicates, ref.bootstrap_distribution)
    assert ours.p_value == pytest.approx(2 / 1000)  # every replicate mean is > 0


def test_paired_bootstrap_clear_difference_tie_and_determinism():
    rng = np.random.default_rng(8)
    y = rng.random((40, 200)) < 0.1
    base = rng.normal(size=y.shape)
    good, bad = base + 2.0 * y, base + 0.3 * y + 0.5 * rng.normal(size=y.shape)
    r = stats.paired_bootstrap(y, good, bad, np.arange(40), metric="auroc", n_resamples=500, seed=3)
    assert r.estimate == pytest.approx(roc_auc_score(y.ravel(), good.ravel()) - roc_auc_score(y.ravel(), bad.ravel()))
    assert 0 < r.ci_low < r.estimate < r.ci_high and r.p_value < 0.01
    again = stats.paired_bootstrap(y, good, bad, np.arange(40), metric="auroc", n_resamples=500, seed=3)
    np.testing.assert_array_equal(r.replicates, again.replicates)
    tie = stats.paired_bootstrap(y, good, good.copy(), np.arange(40), metric="ap", n_resamples=200)
    assert tie.estimate == 0 and tie.ci_low == 0 and tie.ci_high == 0 and tie.p_value == 1.0
    flipped = stats.paired_bootstrap(y, bad, good, np.arange(40), metric="auroc", n_resamples=500, seed=3)
    assert flipped.ci_high == pytest.approx(-r.ci_low)


def test_paired_dice_uses_each_scores_threshold():
    rng = np.random.default_rng(9)
    y = rng.random((20, 100)) < 0.2
    a = rng.normal(size=y.shape) + 2 * y
    b = a + 10.0
    r = stats.paired_bootstrap(y, a, b, np.arange(20), metric="dice", threshold=(1.0, 11.0), n_resamples=200)
    assert r.estimate == pytest.approx(0.0, abs=1e-12)  # b is a shifted by 10, its threshold too
    with pytest.raises(ValueError, match="threshold"):
        stats.paired_bootstrap(y, a, b, np.arange(20), metric="dice")


def test_sample_bootstrap_agrees_with_delong():
    """Without groups (one sample per group) the bootstrap SE of an AUROC difference ≈ DeLong's."""
    rng = np.random.default_rng(10)
    y = rng.random(400) < 0.4
    common = rng.normal(size=400)
    a, b = common + 1.2 * y + rng.normal(size=400), common + 0.7 * y + rng.normal(size=400)
    boot = stats.paired_bootstrap(y, a, b, n_resamples=2000, seed=0)
    dl = stats.delong_paired(y, a, b)
    assert boot.estimate == pytest.approx(dl.estimate, abs=1e-12)
    assert boot.standard_error == pytest.approx(np.sqrt(dl.variance), rel=0.1)


def test_bootstrap_p_value_formula():
    assert stats.bootstrap_p_value([1.0, 2.0, 3.0]) == pytest.approx(2 * 1 / 4)
    assert stats.bootstrap_p_value([-1.0, 2.0, 3.0, 4.0]) == pytest.approx(2 * 2 / 5)
    assert stats.bootstrap_p_value(np.zeros(9)) == 1.0
    assert np.isnan(stats.bootstrap_p_value([1.0, np.nan]))


def test_resample_weights_counts_indices():
    w = stats.resample_weights(np.array([[0, 0, 2], [1, 2, 2]]), 4)
    np.testing.assert_array_equal(w, [[2, 0, 1, 0], [0, 1, 2, 0]])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="groups has"):
        stats.pooled_statistic(np.zeros(10), np.arange(10.0), np.arange(3))
    with pytest.raises(ValueError, match="unknown metric"):
        stats.pooled_statistic(np.zeros(10), np.arange(10.0), metric="f1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not finite"):
        stats.pooled_statistic(np.zeros(3), [0.0, np.nan, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_level_index_equals_searchsorted(dtype):
    """The lookup-table level search, on values exactly on, just below and between the edges."""
    rng = np.random.default_rng(12)
    v = np.r_[rng.standard_normal(200_000), rng.standard_cauchy(1000)].astype(dtype)
    edges = np.unique(np.quantile(v, np.linspace(0, 1, 500), method="inverted_cdf")).astype(dtype)
    v[:500] = edges[rng.integers(0, edges.size, 500)]
    v[500:1000] = np.nextafter(edges[rng.integers(1, edges.size, 500)], dtype(-np.inf))
    np.testing.assert_array_equal(stats.level_index(edges, v), np.searchsorted(edges, v, side="right") - 1)


def test_group_bootstrap_tracks_clustered_sampling_error():
    """Simulated test sets of 30 correlated 'patients': the group bootstrap SE of a pooled AUROC difference
    matches the SD over test sets, while treating pixels as independent (DeLong) understates it."""
    rng = np.random.default_rng(13)
    est, se_group, se_pixel = [], [], []
    for rep in range(100):
        y = rng.random((30, 40)) < rng.uniform(0.05, 0.3, (30, 1))
        offset = rng.normal(size=(30, 1))
        a = offset + 1.0 * y + rng.normal(size=y.shape)
        b = offset + 0.6 * y + 0.8 * rng.normal(size=y.shape) + 0.8 * rng.normal(size=(30, 1)) * y
        r = stats.paired_bootstrap(y, a, b, np.arange(30), n_resamples=100, seed=rep)
        est.append(r.estimate)
        se_group.append(r.standard_error)
        se_pixel.append(np.sqrt(stats.delong_paired(y.ravel(), a.ravel(), b.ravel()).variance))
    true_sd = np.std(est, ddof=1)
    assert np.mean(se_group) == pytest.approx(true_sd, rel=0.2)
    assert np.mean(se_pixel) < 0.7 * true_sd
