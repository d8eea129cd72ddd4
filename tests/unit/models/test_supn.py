"""SUPN maths against a dense precision matrix built pixel by pixel, independently of the library."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc.models import supn


def kernel_offsets(c):
    """Offsets of the kernel positions after the centre, in raster order (independent re-derivation)."""
    k = 2 * c + 1
    return [(idx // k - c, idx % k - c) for idx in range(k * k // 2 + 1, k * k)]


def dense_factor(log_diag, off_diag, c):
    """Dense L (N×N): L[p, p] = exp(ℓ_p), L[p + off_f, p] = w_f[p] for in-image neighbours (loops over pixels)."""
    h, w = log_diag.shape[-2:]
    n = h * w
    L = torch.zeros(n, n, dtype=log_diag.dtype)
    for i in range(h):
        for j in range(w):
            p = i * w + j
            L[p, p] = torch.exp(log_diag[0, i, j])
            for f, (di, dj) in enumerate(kernel_offsets(c)):
                ii, jj = i + di, j + dj
                if 0 <= ii < h and 0 <= jj < w:
                    L[ii * w + jj, p] = off_diag[f, i, j]
    return L


def random_params(b, c, h=5, w=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = (2 * c + 1) ** 2 // 2
    x = torch.randn(b, 1, h, w, generator=g, dtype=dtype)
    mean = torch.randn(b, 1, h, w, generator=g, dtype=dtype)
    log_diag = 0.3 * torch.randn(b, 1, h, w, generator=g, dtype=dtype)
    off_diag = 0.4 * torch.randn(b, f, h, w, generator=g, dtype=dtype)
    return x, mean, log_diag, off_diag


def test_offsets_follow_the_spec_table():
    assert supn.neighbour_offsets(1) == ((0, 1), (1, -1), (1, 0), (1, 1))
    assert list(supn.neighbour_offsets(2)) == kernel_offsets(2)
    assert [supn.n_off_diagonals(c) for c in (0, 1, 2)] == [0, 4, 12]


@pytest.mark.parametrize("c", [1, 2])
def test_log_prob_equals_multivariate_normal(c):
    x, mean, log_diag, off_diag = random_params(3, c)
    got = supn.log_prob(x, mean, log_diag, off_diag, connectivity=c)
    for b in range(3):
        L = dense_factor(log_diag[b], off_diag[b], c)
        mvn = torch.distributions.MultivariateNormal(mean[b].flatten(), precision_matrix=L @ L.T)
        torch.testing.assert_close(got[b], mvn.log_prob(x[b].flatten()), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("c", [0, 1, 2])
def test_whiten_and_mahalanobis_map_against_dense(c):
    x, mean, log_diag, off_diag = random_params(2, c, h=4, w=7, seed=1)
    u = supn.whiten(x - mean, log_diag, off_diag, c)
    m = supn.mahalanobis_map(x, mean, log_diag, off_diag, c)
    for b in range(2):
        L = dense_factor(log_diag[b], off_diag[b], c)
        r = (x[b] - mean[b]).flatten()
        torch.testing.assert_close(u[b].flatten(), L.T @ r)
        torch.testing.assert_close(m[b].sum(), r @ (L @ L.T) @ r)  # the map sums to rᵀΛr


def test_no_wrap_around_at_row_ends():
    # a residual only in the first pixel of row 1 must not reach the last pixel of row 0 through the "right" weight
    r = torch.zeros(1, 1, 3, 4, dtype=torch.float64)
    r[0, 0, 1, 0] = 1.0
    log_diag = torch.full_like(r, -30.0)  # diagonal ≈ 0
    off_diag = torch.ones(1, 4, 3, 4, dtype=torch.float64)
    u = supn.whiten(r, log_diag, off_diag, 1)[0, 0]
    assert u[0, 3] == 0  # raster neighbour p+1 of (0,3) is (1,0): not an image neighbour
    assert u[0, 0] == 1 and u[0, 1] == 1  # (0,0) sees it as "bottom", (0,1) as "bottom-left"


def test_float32_matches_float64():
    x, mean, log_diag, off_diag = random_params(2, 1, h=16, w=16, seed=2)
    ref = supn.log_prob(x, mean, log_diag, off_diag)
    got = supn.log_prob(x.float(), mean.float(), log_diag.float(), off_diag.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-3)


def test_log_prob_gradients():
    x, mean, log_diag, off_diag = random_params(1, 1, h=3, w=4, seed=3)
    args = [t.requires_grad_() for t in (x, mean, log_diag, off_diag)]
    assert torch.autograd.gradcheck(lambda *a: supn.log_prob(*a, connectivity=1), args)


def test_upper_factor_is_dense_transpose():
    _, _, log_diag, off_diag = random_params(1, 2, seed=4)
    lt = supn.upper_factor(log_diag[0], off_diag[0], 2).toarray()
    np.testing.assert_allclose(lt, dense_factor(log_diag[0], off_diag[0], 2).T.numpy())
    assert np.allclose(lt, np.triu(lt))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sampler_covariance_is_inverse_precision(dtype):
    _, mean, log_diag, off_diag = random_params(1, 1, h=3, w=4, dtype=dtype, seed=5)
    n = 100_000
    s = supn.sample(mean, log_diag, off_diag, n, 1, generator=torch.Generator().manual_seed(0))
    assert s.shape == (n, 1, 1, 3, 4) and s.dtype == dtype
    flat = s[:, 0].reshape(n, -1).double()
    L = dense_factor(log_diag[0].double(), off_diag[0].double(), 1)
    cov = torch.linalg.inv(L @ L.T)
    emp = torch.cov(flat.T)
    scale = cov.diagonal().sqrt()
    # correlation-scale error of an empirical covariance from 1e5 samples is ~ 3e-3; allow 5 sigma
    torch.testing.assert_close(
        emp / scale[:, None] / scale[None, :], cov / scale[:, None] / scale[None, :], atol=0.02, rtol=0
    )
    torch.testing.assert_close(flat.mean(0), mean[0].flatten().double(), atol=0.03 * scale.max().item(), rtol=0)


def test_shape_errors_name_the_problem():
    x, mean, log_diag, off_diag = random_params(1, 1)
    with pytest.raises(ValueError, match="off_diag must be"):
        supn.log_prob(x, mean, log_diag, off_diag, connectivity=2)
    with pytest.raises(ValueError, match="log_diag"):
        supn.log_prob(x, mean, log_diag[..., :3], off_diag)
