"""Statistics behind the claims ledger: paired tests of two scores on the same test samples, seed combination,
and the fraction of settings in which one score beats another. Pure NumPy/SciPy: arrays in, numbers out.

Conventions as in `anoloc.metrics`: label 1 = anomalous, higher score = more anomalous; differences are A − B.

**DeLong** (`delong_auroc`, `delong_paired`, `delong_paired_seeds`). With m positives X and n negatives Y,
ψ(x, y) = 1 if x > y, ½ if x = y, 0 otherwise, the structural components are V10_i = (1/n) Σ_j ψ(X_i, Y_j)
and V01_j = (1/m) Σ_i ψ(X_i, Y_j); AUROC = mean V10 = mean V01, and for several scores on the same samples
Cov(AUROC) = S10/m + S01/n with S10, S01 the sample covariance matrices (ddof 1) of the components across
scores (DeLong, DeLong & Clarke-Pearson 1988). The components come from midranks in O(n log n) (Sun & Xu 2014):
V10_i = (rank of X_i among all − rank among positives)/n. A contrast c·AUROC (a difference, or a mean of
differences over seeds on the same samples) has variance cᵀ Cov c. Intervals and p-values are Wald (normal)
ones; the AUROC interval is clipped to [0, 1]. DeLong treats samples as independent: with clustered samples
(pixels of one patient) use the grouped bootstrap.

**Grouped bootstrap** (`pooled_statistic`, `group_bootstrap`, `paired_bootstrap`). Test samples are resampled
by group (a patient, a cell, an image), with replacement, `scipy.stats.bootstrap` drawing the group indices
(percentile, basic or BCa interval). A resample is a vector of group multiplicities w; every metric here is a
function of w through per-group sufficient statistics, so nothing is re-sorted per resample:
- ranking metrics (AUROC, AP, trapezoidal AUPRC) use the positive and negative counts of every group at every
  score *level* (G × K matrices); the pooled counts of a resample are w @ counts. Levels are the distinct score
  values when there are at most `exact_up_to` (200 000) elements; beyond, up to `max_levels` (4096) bins whose
  edges are quantiles of the positive and of the negative scores (half each, from a strided subsample of
  ≤ 2·10^6 elements) — still exact (`exact`) when every score equals its bin's edge. Binning turns pairs
  inside one bin into ties. With P_k, N_k the positives and negatives in bin k, P_{>k}, N_{>k} those
  above it: |AUROC_binned − AUROC_exact| ≤ ½ Σ_k P_k N_k / (P N), and AP and AUPRC move by at most
  Σ_k (P_k / P)(hi_k − lo_k), where hi_k = (P_{>k} + P_k)/(P_{>k} + N_{>k} + P_k) and lo_k = P_{>k}/(P_{>k} +
  N_{>k} + N_k) bound the precision anywhere inside bin k (`binning_bound`). The bound of the full data is
  reported as `approx_bound` (0 when exact; resamples have bounds of the same size).
- Dice at a fixed threshold (`score > threshold`, pooled, eps 1e-6 as `anoloc.metrics.dice`) uses the
  per-group true-positive, predicted and positive counts: exact.
The bootstrap p-value is two-sided, from the percentile distribution: p = min(1, 2·min(1 + #{θ* ≤ θ0},
1 + #{θ* ≥ θ0}) / (B + 1)), so p < 1 − confidence roughly when the percentile interval excludes θ0.

**Seeds** (`paired_bootstrap_seeds`, `delong_paired_seeds`, `seed_mean`, `combine_replicates`,
`combine_inverse_variance`). Seeds score the *same* test samples, so their sampling errors are correlated. The
recommended combination resamples the groups once and averages the per-seed differences within each resample
(`paired_bootstrap_seeds`, i.e. `seed_mean` inside one `group_bootstrap`; equivalently `combine_replicates` on
per-seed results drawn with the same `seed`, `n_resamples` and groups), or for AUROC on independent samples
the DeLong contrast of all 2S scores with their joint covariance (`delong_paired_seeds`): the interval
covers the test-sample uncertainty of the seed-averaged difference, conditional on the trained models (the
seed-to-seed spread is averaged out, not treated as a random effect). `combine_inverse_variance` is the
fixed-effect meta-analysis for independent estimates (e.g. seeds on disjoint test sets); on a shared test set
its interval is too narrow. Its Cochran Q p-value flags seeds that disagree beyond their sampling noise.

**Fraction won** (`fraction_won`): for a claim such as "A beats B in most cases", the share of cells
(settings × classes) with A − B > 0 (ties count as not won), an exact Clopper–Pearson (or Wilson) interval
from `scipy.stats.binomtest` that treats cells as independent draws of settings, a one-sided sign test
against ½, and the counts of cells significant each way (Holm-adjusted p-values, or intervals excluding 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from scipy import stats as sps

from anoloc.calibrate import DICE_EPS
from anoloc.metrics import as_labels_scores

RANK_METRICS = ("auroc", "ap", "auprc")
METRICS = (*RANK_METRICS, "dice")
Metric = Literal["auroc", "ap", "auprc", "dice"]
Method = Literal["percentile", "basic", "BCa"]

_DENSE_MAX = 20_000_000  # G·K above this → sparse count matrices (dense: 2 × 160 MB at most)
_CHUNK_ELEMENTS = 4_000_000  # resamples × levels evaluated at once
_PIXEL_CHUNK = 1 << 22  # elements binned at once


# ============================================================================================= DeLong
def delong_components(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(auroc (k,), V10 (k, m), V01 (k, n)) of k scores (rows of a (k, N) array, or one 1-D score) by midranks."""
    y = np.asarray(labels).ravel().astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.shape[1] != y.size:
        raise ValueError(f"labels and scores differ in size: {y.size} vs {s.shape[1]}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(s))} scores are not finite")
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError(f"DeLong needs both classes (got {m} positives, {n} negatives)")
    x, z = s[:, y], s[:, ~y]
    t_all = sps.rankdata(np.concatenate([x, z], axis=1), axis=1)  # midranks
    v10 = (t_all[:, :m] - sps.rankdata(x, axis=1)) / n
    v01 = 1.0 - (t_all[:, m:] - sps.rankdata(z, axis=1)) / m
    return v10.mean(axis=1), v10, v01


def delong_covariance(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(auroc (k,), covariance (k, k)) of k AUROCs on the same samples: S10/m + S01/n."""
    auc, v10, v01 = delong_components(labels, scores)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10, ddof=1)) if m > 1 else np.zeros((auc.size, auc.size))
    s01 = np.atleast_2d(np.cov(v01, ddof=1)) if n > 1 else np.zeros((auc.size, auc.size))
    return auc, s10 / m + s01 / n


@dataclass(frozen=True)
class DeLongResult:
    """AUROC (or AUROC difference A − B) with its DeLong variance, Wald interval and two-sided p-value."""

    estimate: float
    variance: float
    ci_low: float
    ci_high: float
    p_value: float
    n_positive: int
    n_negative: int
    auroc_a: float = float("nan")
    auroc_b: float = float("nan")
    test: str = "DeLong"

    @property
    def n(self) -> int:
        return self.n_positive + self.n_negative

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "n": self.n}


def _wald(estimate: float, variance: float, null: float, confidence: float) -> tuple[float, float, float]:
    """(ci_low, ci_high, two-sided p) of a normal estimate; zero variance → p 1 if estimate == null else 0."""
    se = float(np.sqrt(max(variance, 0.0)))
    z = sps.norm.ppf(0.5 + confidence / 2)
    if se == 0.0:
        return estimate, estimate, 1.0 if estimate == null else 0.0
    p = float(2 * sps.norm.sf(abs(estimate - null) / se))
    return float(estimate - z * se), float(estimate + z * se), p


def delong_auroc(labels: ArrayLike, scores: ArrayLike, confidence: float = 0.95) -> DeLongResult:
    """AUROC with its DeLong variance and interval (clipped to [0, 1]); the p-value tests AUROC = ½."""
    auc, cov = delong_covariance(labels, scores)
    a, v = float(auc[0]), float(cov[0, 0])
    lo, hi, p = _wald(a, v, 0.5, confidence)
    y = np.asarray(labels).ravel().astype(bool)
    return DeLongResult(a, v, max(lo, 0.0), min(hi, 1.0), p, int(y.sum()), int((~y).sum()), a, float("nan"))


def delong_paired(labels: ArrayLike, score_a: ArrayLike, score_b: ArrayLike, confidence: float = 0.95) -> DeLongResult:
    """AUROC(A) − AUROC(B) of two scores on the same samples: DeLong variance Var A + Var B − 2 Cov, Wald
    interval and two-sided p-value for a zero difference."""
    return delong_paired_seeds(labels, [score_a], [score_b], confidence)


def delong_paired_seeds(
    labels: ArrayLike, scores_a: Sequence[ArrayLike], scores_b: Sequence[ArrayLike], confidence: float = 0.95
) -> DeLongResult:
    """Mean over seeds of AUROC(A_s) − AUROC(B_s), all on the same samples: the contrast c·AUROC of the 2S scores
    with c = (1/S, …, −1/S, …) and variance cᵀ Cov c from one joint DeLong covariance, so the correlation
    between seeds (same test samples) is accounted for. `auroc_a`, `auroc_b`: the seed-mean AUROCs."""
    if len(scores_a) != len(scores_b) or not scores_a:
        raise ValueError(f"need the same number (≥ 1) of seeds for A and B, got {len(scores_a)} and {len(scores_b)}")
    rows = [np.asarray(s, dtype=np.float64).ravel() for s in (*scores_a, *scores_b)]
    if len({r.shape for r in rows}) != 1:
        raise ValueError(f"the scores differ in size: {sorted({r.size for r in rows})}")
    n_seeds = len(scores_a)
    auc, cov = delong_covariance(labels, np.stack(rows))
    c = np.r_[np.full(n_seeds, 1.0 / n_seeds), np.full(n_seeds, -1.0 / n_seeds)]
    d, v = float(c @ auc), float(c @ cov @ c)
    lo, hi, p = _wald(d, v, 0.0, confidence)
    y = np.asarray(labels).ravel().astype(bool)
    mean_a, mean_b = float(auc[:n_seeds].mean()), float(auc[n_seeds:].mean())
    test = "DeLong paired" + (f", mean of {n_seeds} seeds" if n_seeds > 1 else "")
    return DeLongResult(d, v, lo, hi, p, int(y.sum()), int((~y).sum()), mean_a, mean_b, test)


# ================================================================== group-weighted sufficient statistics
class GroupStatistic(Protocol):
    """A metric as a function of group multiplicities: (b, G) weights → (b,) values."""

    n_groups: int

    def __call__(self, weights: np.ndarray) -> np.ndarray: ...


def group_codes(groups: ArrayLike | None, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """(codes, G): integer group codes 0..G−1 per row of `shape`'s first axis or per element.

    `groups` may have one entry per element (any shape of that size), one per row of a ≥ 2-D array (e.g. the
    patient of every slice of a (slices, H, W) stack), or be None (every element its own group). Returned
    codes are per element when `groups` was, per row when it was per row (see `_element_codes`).
    """
    size = int(np.prod(shape))
    if groups is None:
        return np.arange(size), size
    g = np.asarray(groups).ravel()
    if g.size != size and not (len(shape) >= 2 and g.size == shape[0]):
        raise ValueError(f"groups has {g.size} entries; expected {size} (one per element) or one per row")
    _, codes = np.unique(g, return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1


def _element_codes(codes: np.ndarray, size: int, start: int, stop: int) -> np.ndarray:
    """Group codes of flat elements start..stop−1 (codes per element, or per row of `size / codes.size`)."""
    if codes.size == size:
        return codes[start:stop]
    return codes[np.arange(start, stop) // (size // codes.size)]


def _levels(y: np.ndarray, s: np.ndarray, max_levels: int, exact_up_to: int) -> np.ndarray:
    """Ascending level edges: the distinct values when small, else quantiles of positives and of negatives."""
    if s.size <= exact_up_to:
        return np.unique(s)
    step = max(1, s.size // 2_000_000)  # edges from a strided subsample: exactness is checked afterwards
    ys, ss = y[::step], s[::step]
    p = np.linspace(0.0, 1.0, max(2, max_levels // 2))
    parts = [np.quantile(ss[c], p, method="inverted_cdf") for c in (ys, ~ys) if c.any()]
    edges = np.unique(np.concatenate([*parts, [s.min()]]))
    return edges.astype(s.dtype)


def level_index(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`searchsorted(edges, values, "right") − 1` (the level of each value; edges ascending, edges[0] ≤ values).

    Exact, and 1.5–4× faster than a binary search per value on large inputs: values are first put into the
    cells of a uniform grid over [edges[0], edges[-1]]; a value whose cell and both neighbour cells contain no
    edge takes that cell's level (rounding can move it by at most one cell), the rest are searched.
    """
    v = np.asarray(values)
    lo, hi = float(edges[0]), float(edges[-1])
    if v.size < 1 << 16 or not hi > lo:
        return np.searchsorted(edges, v, side="right") - 1
    m = max(1 << 20, 256 * edges.size)
    scale = m / (hi - lo)
    cell = np.clip((v.astype(np.float64) - lo) * scale, 0, m).astype(np.int64)
    at = np.searchsorted(edges, lo + np.arange(m + 2) / scale, side="right")  # #edges ≤ each cell boundary
    safe = np.zeros(m + 1, dtype=bool)
    safe[1 : m - 1] = at[0 : m - 2] == at[3 : m + 1]  # no edge in (b_{c−1}, b_{c+2}]
    out = at[cell] - 1
    unsafe = ~safe[cell]
    out[unsafe] = np.searchsorted(edges, v[unsafe], side="right") - 1
    return out


@dataclass(frozen=True)
class RankCounts:
    """Positive / negative counts per (group, score level), levels ascending: all that AUROC, AP and AUPRC
    need under group resampling. `exact` when every level holds one distinct score value."""

    pos: np.ndarray | sparse.csr_array
    neg: np.ndarray | sparse.csr_array
    exact: bool

    @property
    def n_groups(self) -> int:
        return int(self.pos.shape[0])

    @property
    def n_levels(self) -> int:
        return int(self.pos.shape[1])


def rank_counts(
    labels: ArrayLike,
    scores: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    max_levels: int = 4096,
    exact_up_to: int = 200_000,
) -> RankCounts:
    """Per-group counts at every score level (see the module docstring for levels and the binning bound)."""
    shape = np.shape(labels)
    y, s = as_labels_scores(labels, scores, keep_float=True)
    codes, n_groups = group_codes(groups, shape)
    edges = _levels(y, s, max_levels, exact_up_to)
    k = edges.size
    exact = True
    if n_groups * k <= min(_DENSE_MAX, 8 * s.size):  # dense unless huge or mostly empty (one sample per group)
        both = np.zeros(2 * n_groups * k, dtype=np.float64)
        for start in range(0, s.size, _PIXEL_CHUNK):
            stop = min(start + _PIXEL_CHUNK, s.size)
            sc, yc = s[start:stop], y[start:stop]
            lev = level_index(edges, sc)
            exact = exact and bool(np.array_equal(edges[lev], sc))
            flat = (_element_codes(codes, s.size, start, stop) * k + lev) * 2 + yc
            both += np.bincount(flat, minlength=2 * n_groups * k)
        both = both.reshape(n_groups, k, 2)
        pos_m: np.ndarray | sparse.csr_array = both[:, :, 1].copy()
        neg_m: np.ndarray | sparse.csr_array = both[:, :, 0].copy()
    else:
        lev = level_index(edges, s)
        exact = bool(np.array_equal(edges[lev], s))
        g = _element_codes(codes, s.size, 0, s.size)
        pos_m = sparse.csr_array((np.ones(int(y.sum())), (g[y], lev[y])), shape=(n_groups, k))
        neg_m = sparse.csr_array((np.ones(int((~y).sum())), (g[~y], lev[~y])), shape=(n_groups, k))
        pos_m.sum_duplicates()
        neg_m.sum_duplicates()
    return RankCounts(pos_m, neg_m, exact)


def _weighted(counts: np.ndarray | sparse.csr_array, w: np.ndarray) -> np.ndarray:
    """w @ counts for dense or sparse counts: (b, G) × (G, K) → (b, K)."""
    if sparse.issparse(counts):
        return np.asarray((counts.T @ w.T).T)
    return w @ counts


def rank_metric_from_counts(tp: np.ndarray, fp: np.ndarray, metric: str) -> np.ndarray:
    """AUROC, AP or trapezoidal AUPRC from positive / negative counts per ascending level (rows = resamples).

    AUROC = Σ_k tp_k (N_{<k} + ½ fp_k) / (P N) (Mann–Whitney with ties ½, = scikit-learn's trapezoidal AUROC);
    AP = Σ_k (tp_k / P) · precision(score ≥ level k) (scikit-learn's step-wise AP); AUPRC = trapezoidal area
    under (recall, precision) from (0, 1) through every level, descending (`anoloc.metrics.auprc_trapezoid`).
    Empty levels change none of them; NaN when a row has no positive or no negative.
    """
    tp, fp = np.atleast_2d(tp), np.atleast_2d(fp)
    n_pos, n_neg = tp.sum(axis=1), fp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "auroc":
            below = np.cumsum(fp, axis=1) - fp
            out = (tp * (below + 0.5 * fp)).sum(axis=1) / (n_pos * n_neg)
        else:
            tp_cum = np.cumsum(tp[:, ::-1], axis=1)  # score ≥ level, levels descending
            pred = tp_cum + np.cumsum(fp[:, ::-1], axis=1)
            precision = np.where(pred > 0, tp_cum / np.where(pred > 0, pred, 1.0), 1.0)
            if metric == "ap":
                out = (tp[:, ::-1] * precision).sum(axis=1) / n_pos
            elif metric == "auprc":
                recall = tp_cum / n_pos[:, None]
                r = np.concatenate([np.zeros((tp.shape[0], 1)), recall], axis=1)
                p = np.concatenate([np.ones((tp.shape[0], 1)), precision], axis=1)
                out = (np.diff(r, axis=1) * 0.5 * (p[:, 1:] + p[:, :-1])).sum(axis=1)
            else:
                raise ValueError(f"unknown ranking metric {metric!r}; expected one of {RANK_METRICS}")
    return np.where((n_pos > 0) & (n_neg > 0), out, np.nan)


def binning_bound(tp: np.ndarray, fp: np.ndarray, metric: str) -> np.ndarray:
    """Bound on |metric(binned) − metric(exact)| when each level of (tp, fp) (rows = resamples, levels ascending)
    pools scores that may differ (see the module docstring); NaN where a row lacks a class."""
    tp, fp = np.atleast_2d(tp).astype(np.float64), np.atleast_2d(fp).astype(np.float64)
    n_pos, n_neg = tp.sum(axis=1), fp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "auroc":
            out = 0.5 * (tp * fp).sum(axis=1) / (n_pos * n_neg)
        elif metric in ("ap", "auprc"):
            t, f = tp[:, ::-1], fp[:, ::-1]  # descending
            t_above, f_above = np.cumsum(t, axis=1) - t, np.cumsum(f, axis=1) - f
            hi = np.where(t > 0, (t_above + t) / np.maximum(t_above + f_above + t, 1.0), 0.0)
            lo_den = t_above + f_above + f
            lo = np.where(lo_den > 0, t_above / np.maximum(lo_den, 1.0), 1.0)
            out = (t * np.maximum(hi - lo, 0.0)).sum(axis=1) / n_pos
        else:
            raise ValueError(f"unknown ranking metric {metric!r}; expected one of {RANK_METRICS}")
    return np.where((n_pos > 0) & (n_neg > 0), out, np.nan)


@dataclass(frozen=True)
class RankStatistic:
    """A pooled ranking metric (AUROC, AP, AUPRC) of one score as a function of group weights."""

    counts: RankCounts
    metric: str

    @property
    def n_groups(self) -> int:
        return self.counts.n_groups

    @property
    def approx_bound(self) -> float:
        """Bound on |binned − exact| of the metric on the full data (0 when the levels are exact)."""
        if self.counts.exact:
            return 0.0
        p_k = np.asarray(self.counts.pos.sum(axis=0)).ravel()
        n_k = np.asarray(self.counts.neg.sum(axis=0)).ravel()
        return float(binning_bound(p_k, n_k, self.metric)[0])

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        step = max(1, _CHUNK_ELEMENTS // max(1, self.counts.n_levels))
        out = [
            rank_metric_from_counts(
                _weighted(self.counts.pos, w[i : i + step]), _weighted(self.counts.neg, w[i : i + step]), self.metric
            )
            for i in range(0, w.shape[0], step)
        ]
        return np.concatenate(out)


@dataclass(frozen=True)
class DiceStatistic:
    """Pooled hard Dice of `score > threshold` as a function of group weights (exact)."""

    tp: np.ndarray
    predicted: np.ndarray
    positive: np.ndarray
    approx_bound: float = 0.0

    @property
    def n_groups(self) -> int:
        return int(self.tp.size)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        return (2 * (w @ self.tp) + DICE_EPS) / (w @ self.predicted + w @ self.positive + DICE_EPS)


def dice_statistic(labels: ArrayLike, scores: ArrayLike, groups: ArrayLike | None, threshold: float) -> DiceStatistic:
    """Per-group true-positive, predicted and positive pixel counts of `score > threshold`."""
    shape = np.shape(labels)
    y, s = as_labels_scores(labels, scores, keep_float=True)
    codes, n_groups = group_codes(groups, shape)
    g = _element_codes(codes, s.size, 0, s.size)
    pred = s > float(threshold)
    count = lambda m: np.bincount(g[m], minlength=n_groups).astype(np.float64)  # noqa: E731
    return DiceStatistic(count(pred & y), count(pred), count(y))


def pooled_statistic(
    labels: ArrayLike,
    scores: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    metric: Metric = "auroc",
    threshold: float | None = None,
    max_levels: int = 4096,
    exact_up_to: int = 200_000,
) -> RankStatistic | DiceStatistic:
    """A metric pooled over all elements of the resampled groups, as a `GroupStatistic` (dice needs threshold)."""
    if metric == "dice":
        if threshold is None:
            raise ValueError("metric 'dice' needs a threshold")
        return dice_statistic(labels, scores, groups, threshold)
    if metric not in RANK_METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    return RankStatistic(rank_counts(labels, scores, groups, max_levels=max_levels, exact_up_to=exact_up_to), metric)


@dataclass(frozen=True)
class Difference:
    """statistic A − statistic B under the same group weights (a paired comparison)."""

    a: GroupStatistic
    b: GroupStatistic

    def __post_init__(self) -> None:
        if self.a.n_groups != self.b.n_groups:
            raise ValueError(f"the two statistics have {self.a.n_groups} and {self.b.n_groups} groups")

    @property
    def n_groups(self) -> int:
        return self.a.n_groups

    @property
    def approx_bound(self) -> float:
        return float(getattr(self.a, "approx_bound", 0.0) + getattr(self.b, "approx_bound", 0.0))

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        return self.a(weights) - self.b(weights)


@dataclass(frozen=True)
class SeedMean:
    """Mean over seeds of per-seed statistics on the same groups, under the same group weights."""

    parts: tuple[GroupStatistic, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("SeedMean needs at least one statistic")
        if len({p.n_groups for p in self.parts}) != 1:
            raise ValueError(f"the seeds' statistics have different group counts: {[p.n_groups for p in self.parts]}")

    @property
    def n_groups(self) -> int:
        return self.parts[0].n_groups

    @property
    def approx_bound(self) -> float:
        return float(np.mean([getattr(p, "approx_bound", 0.0) for p in self.parts]))

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        return np.mean([p(weights) for p in self.parts], axis=0)


def seed_mean(statistics: Sequence[GroupStatistic]) -> SeedMean:
    """Average several seeds' statistics (e.g. `Difference`s) resampled together."""
    return SeedMean(tuple(statistics))


# ============================================================================================ bootstrap
@dataclass(frozen=True)
class BootstrapResult:
    """A statistic, its bootstrap interval and two-sided p-value (null `null`), and the replicates."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    standard_error: float
    n_groups: int
    n_resamples: int
    seed: int
    method: str
    confidence: float
    approx_bound: float = 0.0
    null: float = 0.0
    test: str = "paired group bootstrap"
    replicates: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.n_groups

    def as_dict(self) -> dict[str, float | int | str]:
        """The scalar fields (no replicates), plus `n`, for a ledger row."""
        d = {k: v for k, v in asdict(self).items() if k != "replicates"}
        return {**d, "n": self.n}


def bootstrap_p_value(replicates: ArrayLike, null: float = 0.0) -> float:
    """Two-sided percentile p-value min(1, 2·min(1 + #{θ* ≤ null}, 1 + #{θ* ≥ null}) / (B + 1)).

    NaN when there are no replicates or any is NaN."""
    r = np.asarray(replicates, dtype=np.float64).ravel()
    if r.size == 0 or np.isnan(r).any():
        return float("nan")
    low, high = np.count_nonzero(r <= null), np.count_nonzero(r >= null)
    return float(min(1.0, 2 * (1 + min(low, high)) / (r.size + 1)))


def resample_weights(indices: np.ndarray, n_groups: int) -> np.ndarray:
    """Group multiplicities (b, G) of resampled group indices (b, m) (rows are resamples)."""
    idx = np.atleast_2d(np.asarray(indices)).astype(np.intp)
    b = idx.shape[0]
    flat = (idx + n_groups * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n_groups).reshape(b, n_groups).astype(np.float64)


def group_bootstrap(
    statistic: GroupStatistic,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "percentile",
    confidence: float = 0.95,
    null: float = 0.0,
    batch: int | None = 500,
    test: str = "paired group bootstrap",
) -> BootstrapResult:
    """Bootstrap a `GroupStatistic` by resampling its groups with replacement (`scipy.stats.bootstrap`).

    The same `seed`, `n_resamples`, `batch` and group count draw the same resamples, whatever the statistic.
    `estimate` is the statistic with every group once; NaN replicates (a resample without positives) make
    the interval NaN.
    """
    n_groups = int(statistic.n_groups)
    if n_groups < 2:
        raise ValueError(f"a group bootstrap needs at least 2 groups, got {n_groups}")

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray | float:
        values = statistic(resample_weights(idx, n_groups))
        return values if np.ndim(idx) > 1 else float(values[0])

    estimate = float(statistic(np.ones((1, n_groups)))[0])
    res = sps.bootstrap(
        (np.arange(n_groups),),
        stat,
        n_resamples=n_resamples,
        batch=batch,
        vectorized=True,
        method=method,
        confidence_level=confidence,
        rng=np.random.default_rng(seed),
    )
    reps = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    return BootstrapResult(
        estimate=estimate,
        ci_low=float(res.confidence_interval.low),
        ci_high=float(res.confidence_interval.high),
        p_value=bootstrap_p_value(reps, null),
        standard_error=float(res.standard_error),
        n_groups=n_groups,
        n_resamples=int(n_resamples),
        seed=int(seed),
        method=method,
        confidence=float(confidence),
        approx_bound=float(getattr(statistic, "approx_bound", 0.0)),
        null=float(null),
        test=test,
        replicates=reps,
    )


Thresholds = float | tuple[float, float] | Sequence[tuple[float, float]] | None


def _thresholds(threshold: Thresholds, n_seeds: int) -> list[tuple[float | None, float | None]]:
    """Per-seed (threshold_a, threshold_b) from one value, one (a, b) pair, or one pair per seed."""
    if threshold is None or np.isscalar(threshold):
        return [(threshold, threshold)] * n_seeds  # type: ignore[list-item]
    t = list(threshold)  # type: ignore[arg-type]
    if len(t) == 2 and all(np.isscalar(x) for x in t):
        return [(float(t[0]), float(t[1]))] * n_seeds
    if len(t) == n_seeds and all(np.size(x) == 2 for x in t):
        return [(float(x[0]), float(x[1])) for x in t]
    raise ValueError(f"threshold must be a number, an (a, b) pair or {n_seeds} such pairs, got {threshold!r}")


def paired_bootstrap(
    labels: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    metric: Metric = "auroc",
    threshold: float | tuple[float, float] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "percentile",
    confidence: float = 0.95,
    max_levels: int = 4096,
    exact_up_to: int = 200_000,
) -> BootstrapResult:
    """metric(A) − metric(B) on the same samples, resampling `groups` (None: every sample its own group).

    `threshold`: Dice threshold(s), one for both scores or (threshold_a, threshold_b).
    """
    return paired_bootstrap_seeds(
        labels,
        [score_a],
        [score_b],
        groups,
        metric=metric,
        threshold=threshold,
        n_resamples=n_resamples,
        seed=seed,
        method=method,
        confidence=confidence,
        max_levels=max_levels,
        exact_up_to=exact_up_to,
    )


def paired_bootstrap_seeds(
    labels: ArrayLike,
    scores_a: Sequence[ArrayLike],
    scores_b: Sequence[ArrayLike],
    groups: ArrayLike | None = None,
    *,
    metric: Metric = "auroc",
    threshold: Thresholds = None,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "percentile",
    confidence: float = 0.95,
    max_levels: int = 4096,
    exact_up_to: int = 200_000,
) -> BootstrapResult:
    """Mean over seeds of metric(A_s) − metric(B_s), all seeds scored on the same samples and resampled together.

    `scores_a[s]`, `scores_b[s]`: seed s's two scores. Dice `threshold`: one value, one (a, b) pair, or a list
    of (a, b) pairs, one per seed (thresholds are usually calibrated per model).
    """
    if len(scores_a) != len(scores_b) or not scores_a:
        raise ValueError(f"need the same number (≥ 1) of seeds for A and B, got {len(scores_a)} and {len(scores_b)}")
    thresholds = _thresholds(threshold, len(scores_a))
    kw = {"metric": metric, "max_levels": max_levels, "exact_up_to": exact_up_to}
    diffs = [
        Difference(
            pooled_statistic(labels, a, groups, threshold=ta, **kw),  # type: ignore[arg-type]
            pooled_statistic(labels, b, groups, threshold=tb, **kw),  # type: ignore[arg-type]
        )
        for a, b, (ta, tb) in zip(scores_a, scores_b, thresholds, strict=True)
    ]
    stat: GroupStatistic = diffs[0] if len(diffs) == 1 else seed_mean(diffs)
    unit = "samples" if groups is None else "groups"
    seeds = "" if len(diffs) == 1 else f", mean of {len(diffs)} seeds"
    test = f"paired {metric} bootstrap over {unit} ({n_resamples} resamples, {method}{seeds})"
    return group_bootstrap(stat, n_resamples=n_resamples, seed=seed, method=method, confidence=confidence, test=test)


# ================================================================================================ seeds
@dataclass(frozen=True)
class CombinedResult:
    """A mean over seeds with its interval and two-sided p-value for a zero effect."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    standard_error: float
    n_seeds: int
    seed_sd: float
    heterogeneity_p: float = float("nan")
    test: str = ""

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def combine_replicates(
    estimates: ArrayLike, replicates: ArrayLike, confidence: float = 0.95, null: float = 0.0
) -> CombinedResult:
    """Mean of per-seed estimates with a percentile interval from the index-wise mean of their replicates.

    `replicates` (seeds × B) must come from the same group resamples in every seed (same `seed`,
    `n_resamples` and groups in `group_bootstrap`); then this equals bootstrapping `seed_mean` directly.
    """
    e = np.asarray(estimates, dtype=np.float64).ravel()
    r = np.atleast_2d(np.asarray(replicates, dtype=np.float64))
    if r.shape[0] != e.size:
        raise ValueError(f"{e.size} estimates but {r.shape[0]} rows of replicates")
    mean_r = r.mean(axis=0)
    alpha = (1 - confidence) / 2
    lo, hi = sps.quantile(mean_r, [alpha, 1 - alpha])
    return CombinedResult(
        estimate=float(e.mean()),
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=bootstrap_p_value(mean_r, null),
        standard_error=float(np.std(mean_r, ddof=1)),
        n_seeds=int(e.size),
        seed_sd=float(np.std(e, ddof=1)) if e.size > 1 else 0.0,
        test=f"bootstrap, replicates averaged over {e.size} seeds",
    )


def combine_inverse_variance(
    estimates: ArrayLike, variances: ArrayLike, confidence: float = 0.95, null: float = 0.0
) -> CombinedResult:
    """Fixed-effect inverse-variance mean Σ e_s/v_s / Σ 1/v_s with variance 1/Σ 1/v_s (independent seeds).

    `heterogeneity_p`: Cochran's Q = Σ (e_s − ē)²/v_s against χ²(S − 1). Zero variances are not allowed.
    """
    e = np.asarray(estimates, dtype=np.float64).ravel()
    v = np.asarray(variances, dtype=np.float64).ravel()
    if e.shape != v.shape or e.size == 0:
        raise ValueError(f"need one variance per estimate, got {e.size} estimates and {v.size} variances")
    if np.any(~(v > 0)):
        raise ValueError("inverse-variance weighting needs positive variances")
    w = 1.0 / v
    mean = float(np.sum(w * e) / w.sum())
    var = float(1.0 / w.sum())
    lo, hi, p = _wald(mean, var, null, confidence)
    q = float(np.sum(w * (e - mean) ** 2))
    het = float(sps.chi2.sf(q, e.size - 1)) if e.size > 1 else float("nan")
    return CombinedResult(
        estimate=mean,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        standard_error=float(np.sqrt(var)),
        n_seeds=int(e.size),
        seed_sd=float(np.std(e, ddof=1)) if e.size > 1 else 0.0,
        heterogeneity_p=het,
        test=f"fixed-effect inverse-variance mean of {e.size} seeds",
    )


# ========================================================================================= fraction won
def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


@dataclass(frozen=True)
class WinFraction:
    """How often A beat B over cells: fraction won with a binomial interval, sign test, significant counts."""

    n_cells: int
    n_won: int
    n_lost: int
    n_tied: int
    fraction: float
    ci_low: float
    ci_high: float
    p_value: float
    n_significant_won: int
    n_significant_lost: int
    test: str

    @property
    def n(self) -> int:
        return self.n_cells

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "n": self.n}


def fraction_won(
    differences: ArrayLike,
    ci_low: ArrayLike | None = None,
    ci_high: ArrayLike | None = None,
    p_values: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
    adjust: Literal["holm", "none"] = "holm",
    interval: Literal["exact", "wilson"] = "exact",
) -> WinFraction:
    """Fraction of cells with A − B > 0, NaN cells dropped (ties are not wins).

    Interval: Clopper–Pearson (`exact`) or Wilson on n_won / n_cells; p_value: one-sided sign test
    P(X ≥ n_won | n_cells, ½). Significance per cell: `p_values` (Holm-adjusted unless adjust="none") below
    `alpha`, else the per-cell interval excluding 0 (unadjusted); 0 significant cells if neither is given.
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    keep = ~np.isnan(d)
    d = d[keep]
    n = int(d.size)
    won, lost = int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0))
    sig_won = sig_lost = 0
    how = "none"
    if p_values is not None:
        p = np.asarray(p_values, dtype=np.float64).ravel()[keep]
        p = holm(p) if adjust == "holm" else p
        sig = p < alpha
        sig_won, sig_lost = int(np.count_nonzero(sig & (d > 0))), int(np.count_nonzero(sig & (d < 0)))
        how = f"{'Holm-adjusted ' if adjust == 'holm' else ''}p < {alpha}"
    elif ci_low is not None and ci_high is not None:
        lo = np.asarray(ci_low, dtype=np.float64).ravel()[keep]
        hi = np.asarray(ci_high, dtype=np.float64).ravel()[keep]
        sig_won, sig_lost = int(np.count_nonzero(lo > 0)), int(np.count_nonzero(hi < 0))
        how = "interval excludes 0"
    if n == 0:
        return WinFraction(0, 0, 0, 0, float("nan"), float("nan"), float("nan"), float("nan"), 0, 0, "no cells")
    ci = sps.binomtest(won, n, 0.5).proportion_ci(confidence_level=confidence, method=interval)  # two-sided
    sign_p = sps.binomtest(won, n, 0.5, alternative="greater").pvalue
    name = "Clopper-Pearson" if interval == "exact" else "Wilson"
    return WinFraction(
        n_cells=n,
        n_won=won,
        n_lost=lost,
        n_tied=n - won - lost,
        fraction=won / n,
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        p_value=float(sign_p),
        n_significant_won=sig_won,
        n_significant_lost=sig_lost,
        test=f"fraction of {n} cells won ({name} interval, sign test; per-cell significance: {how})",
    )
