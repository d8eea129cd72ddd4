"""Conditioning diagnostics of a SUPN factor, checked against dense float64 linear algebra (numpy SVD/inverse)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from anoloc.models import supn
from anoloc.models.supn_diagnostics import (
    CONDITIONING_COLUMNS,
    conditioning_frame,
    dominance_ratio,
    dominant_projection,
    sample_checked,
    smallest_singular_value,
    solve_growth,
)


def dense_upper(log_diag, off_diag, c=1):
    """Dense Lᵀ (N×N) built pixel by pixel: row p has exp(ℓ_p) on the diagonal and w_f[p] at p + off_f."""
    h, w = log_diag.shape[-2:]
    k = 2 * c + 1
    offsets = [(idx // k - c, idx % k - c) for idx in range(k * k // 2 + 1, k * k)]
    a = np.zeros((h * w, h * w))
    for i in range(h):
        for j in range(w):
            p = i * w + j
            a[p, p] = math.exp(float(log_diag[0, i, j]))
            for f, (di, dj) in enumerate(offsets):
                if 0 <= i + di < h and 0 <= j + dj < w:
                    a[p, (i + di) * w + j + dj] = float(off_diag[f, i, j])
    return a


def params(scale_off, h=6, w=7, seed=0, c=1):
    g = torch.Generator().manual_seed(seed)
    log_diag = 0.5 * torch.randn(1, h, w, generator=g, dtype=torch.float64)
    off_diag = scale_off * torch.randn((2 * c + 1) ** 2 // 2, h, w, generator=g, dtype=torch.float64)
    return log_diag, off_diag


def explosive(weight=-1e6, h=30, w=30):
    """w_right = w_bottom = weight·d: the back-substitution multiplies by |weight| at every step of each of the
    C(h+w−2, h−1) paths from the last pixel to the first (|weight| = 1e6: ~1e360, beyond float64)."""
    log_diag = torch.zeros(1, h, w, dtype=torch.float64)
    off_diag = torch.zeros(4, h, w, dtype=torch.float64)
    off_diag[0] = off_diag[2] = weight
    return log_diag, off_diag


@pytest.mark.parametrize(("scale_off", "seed"), [(0.2, 0), (0.8, 1), (1.5, 2), (3.0, 3)])
def test_smallest_singular_value_matches_dense_svd(scale_off, seed):
    log_diag, off_diag = params(scale_off, seed=seed)
    want = np.linalg.svd(dense_upper(log_diag, off_diag), compute_uv=False).min()
    got = smallest_singular_value(log_diag, off_diag)
    assert want < 1e-3 or scale_off < 1  # the large weights really are ill-conditioned (not a trivial test)
    assert got == pytest.approx(want, rel=1e-5)


def test_connectivity_two_singular_value():
    log_diag, off_diag = params(0.5, h=5, w=6, seed=4, c=2)
    want = np.linalg.svd(dense_upper(log_diag, off_diag, c=2), compute_uv=False).min()
    assert smallest_singular_value(log_diag, off_diag, connectivity=2) == pytest.approx(want, rel=1e-5)


def test_dominance_ratio_is_the_row_ratio_of_the_dense_factor():
    log_diag, off_diag = params(0.7, seed=5)
    a = dense_upper(log_diag, off_diag)
    dense = (np.abs(a).sum(1) - np.abs(np.diag(a))) / np.diag(a)
    got = dominance_ratio(log_diag[None], off_diag[None]).flatten().numpy()
    interior = np.zeros((6, 7), dtype=bool)
    interior[:-1, 1:-1] = True  # all four neighbours exist
    np.testing.assert_allclose(got[interior.ravel()], dense[interior.ravel()], rtol=1e-12)
    assert np.all(got >= dense - 1e-12)  # at the borders an upper bound


def test_solve_growth_against_dense_solve():
    log_diag, off_diag = params(1.2, seed=6)
    a = dense_upper(log_diag, off_diag)
    eps = np.random.default_rng(3).standard_normal(a.shape[0])
    want = np.abs(np.linalg.solve(a, eps)).max() / np.abs(eps / np.diag(a)).max()
    assert solve_growth(log_diag, off_diag, eps=eps) == pytest.approx(want, rel=1e-9)
    assert solve_growth(log_diag, torch.zeros_like(off_diag)) == pytest.approx(1.0)


def test_overflowing_factor_is_reported_singular():
    log_diag, off_diag = explosive()
    assert solve_growth(log_diag, off_diag) == math.inf
    assert smallest_singular_value(log_diag, off_diag) == 0.0
    frame = conditioning_frame(log_diag[None], off_diag[None])
    assert bool(frame.loc[0, "singular"]) and frame.loc[0, "frac_rows_not_dominant"] > 0.9


def test_dominant_projection_bounds_the_sampler_and_the_singular_value():
    """Varah: row-dominant with margin α ⇒ ‖A⁻¹‖_∞ ≤ 1/α and σ_min ≥ α/√N (dense inverse and SVD)."""
    rho = 0.9
    for seed in range(4):
        log_diag, off_diag = params(2.0, seed=10 + seed)
        before = dominance_ratio(log_diag[None], off_diag[None])
        proj = dominant_projection(log_diag[None], off_diag[None], rho)[0]
        after = dominance_ratio(log_diag[None], proj[None])
        assert before.max() > 1 and after.max() <= rho + 1e-12
        inside = before <= rho
        torch.testing.assert_close(proj[:, inside[0, 0]], off_diag[:, inside[0, 0]], rtol=0, atol=0)
        a = dense_upper(log_diag, proj)
        alpha = (1 - rho) * math.exp(float(log_diag.min()))
        assert np.abs(np.linalg.inv(a)).sum(1).max() <= 1 / alpha * (1 + 1e-9)
        smin = np.linalg.svd(a, compute_uv=False).min()
        assert smin >= alpha / math.sqrt(a.shape[0])
        assert smallest_singular_value(log_diag, proj) == pytest.approx(smin, rel=1e-5)


def test_conditioning_frame_of_a_diagonal_factor():
    log_diag = torch.log(torch.tensor([0.5, 2.0, 4.0, 1.0], dtype=torch.float64)).reshape(1, 1, 2, 2)
    frame = conditioning_frame(log_diag, torch.zeros(1, 4, 2, 2, dtype=torch.float64))
    assert list(frame.columns) == list(CONDITIONING_COLUMNS)
    row = frame.iloc[0]
    assert (row.diag_min, row.diag_max, row.ratio_max, row.solve_growth) == pytest.approx((0.5, 4.0, 0.0, 1.0))
    assert row.sigma_min == pytest.approx(0.5) and row.sigma_min_rel == pytest.approx(0.125)
    assert row.dominance_margin == pytest.approx(0.125) and not row.singular


def test_sample_checked_matches_sample_and_flags_singular_crops():
    good_ld, good_od = params(0.3, h=30, w=30, seed=7)
    bad_ld, bad_od = explosive()
    log_diag = torch.stack([good_ld, bad_ld]).float()
    off_diag = torch.stack([good_od, bad_od]).float()
    mean = torch.zeros(2, 1, 30, 30)
    with pytest.warns(supn.SingularFactorWarning):
        plain = supn.sample(mean, log_diag, off_diag, 3, generator=torch.Generator().manual_seed(0))
    assert torch.isnan(plain[:, 1]).all() and torch.isfinite(plain[:, 0]).all()

    checked = sample_checked(mean, log_diag, off_diag, 3, generator=torch.Generator().manual_seed(0))
    assert checked.singular.tolist() == [False, True] and not checked.repaired.any()
    assert torch.equal(checked.samples[:, 0], plain[:, 0]) and torch.isnan(checked.samples[:, 1]).all()
    assert checked.growth[1] == math.inf and 1 <= checked.growth[0] < 100
    assert sample_checked(mean, log_diag, off_diag, 3, max_growth=0.5).singular.all()  # the growth threshold

    repaired = sample_checked(mean, log_diag, off_diag, 3, generator=torch.Generator().manual_seed(0), repair_rho=0.9)
    assert repaired.repaired.tolist() == [False, True] and torch.isfinite(repaired.samples).all()
    fixed = off_diag.clone()
    fixed[1] = dominant_projection(log_diag[1:].double(), off_diag[1:].double(), 0.9)[0].float()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = supn.sample(mean, log_diag, fixed, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(repaired.samples, want)


def test_sample_beyond_float32_is_nan_in_float32_and_finite_in_float64():
    log_diag, off_diag = explosive(weight=-20.0)  # growth ~1e86: finite in float64, not in float32
    assert 1e40 < solve_growth(log_diag, off_diag) < 1e300
    with pytest.warns(supn.SingularFactorWarning):
        x32 = supn.sample(torch.zeros(1, 1, 30, 30), log_diag[None].float(), off_diag[None].float(), 1)
    assert torch.isnan(x32).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x64 = supn.sample(torch.zeros(1, 1, 30, 30, dtype=torch.float64), log_diag[None], off_diag[None], 1)
    assert torch.isfinite(x64).all() and x64.abs().max() > 1e40
    checked = sample_checked(torch.zeros(1, 1, 30, 30, dtype=torch.float64), log_diag[None], off_diag[None], 1)
    assert checked.singular.all()  # growth above MAX_GROWTH even though finite


def test_sample_checked_diag_epsilon_is_a_floor_on_the_diagonal():
    log_diag, off_diag = params(0.3, seed=8)
    log_diag, off_diag, mean = log_diag[None], off_diag[None], torch.zeros(1, 1, 6, 7, dtype=torch.float64)
    got = sample_checked(mean, log_diag, off_diag, 2, generator=torch.Generator().manual_seed(1), diag_epsilon=0.5)
    floor = torch.log(torch.exp(log_diag) + 0.5)
    want = supn.sample(mean, floor, off_diag, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(got.samples, want)
