"""PaDiM's float32 streaming statistics and Cholesky-factor Mahalanobis against a float64 batch fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc.knn.padim import PaDiM, RunningGaussian, mahalanobis_cholesky
from tests.fake_extractor import FakeExtractor


def _ill_conditioned(positions: int, n: int, dim: int, seed: int) -> np.ndarray:
    """(P, n, d) samples with a large common offset and covariance eigenvalues from 1e-3 to 1e2."""
    rng = np.random.default_rng(seed)
    out = np.empty((positions, n, dim))
    for p in range(positions):
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        scales = np.sqrt(np.logspace(-3, 2, dim))
        out[p] = 500.0 + rng.normal(size=dim) + (rng.normal(size=(n, dim)) * scales) @ q.T
    return out


def test_float32_blocks_match_float64_batch_fit():
    data = _ill_conditioned(positions=4, n=300, dim=24, seed=0)
    rg = RunningGaussian(4, 24, dtype=torch.float32, block=64)
    start = 0
    for size in (1, 7, 50, 13, 100, 129):  # uneven batches; the first one (the shift) is a single sample
        rg.update(torch.from_numpy(data[:, start : start + size]).float())
        start += size
        assert rg._fill < 64  # the buffer never holds a full block
    mean, cov = rg.finalise()
    x32 = data.astype(np.float32).astype(np.float64)  # what the float32 features hold
    for p in range(4):
        np.testing.assert_allclose(mean[p].numpy(), x32[p].mean(0), rtol=1e-6)
        ref = np.cov(x32[p], rowvar=False)
        assert np.abs(cov[p].numpy() - ref).max() <= 1e-4 * np.abs(ref).max()


def test_cholesky_mahalanobis_equals_float64_inverse():
    data = _ill_conditioned(positions=3, n=200, dim=16, seed=1)
    eps = 0.01
    rg = RunningGaussian(3, 16, dtype=torch.float32, block=32)
    rg.update(torch.from_numpy(data).float())
    mean, cov = rg.finalise()
    chol = torch.linalg.cholesky(cov + eps * torch.eye(16, dtype=torch.float64)).float()
    test = torch.from_numpy(data[:, :10] + np.random.default_rng(2).normal(size=(3, 10, 16))).float()
    ours = mahalanobis_cholesky(test, mean.float(), chol).double().numpy()
    x32 = data.astype(np.float32).astype(np.float64)
    for p in range(3):
        prec = np.linalg.inv(np.cov(x32[p], rowvar=False) + eps * np.eye(16))
        delta = test[p].double().numpy() - x32[p].mean(0)
        ref = np.sqrt(np.einsum("bi,ij,bj->b", delta, prec, delta))
        np.testing.assert_allclose(ours[p], ref, rtol=2e-4)


def test_padim_scores_equal_a_float64_batch_fit():
    fe = FakeExtractor(offset=30.0, scale=5.0)  # features far from centred
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(40, 3, 64, 64, generator=gen)
    test = torch.randn(3, 3, 64, 64, generator=gen)
    model = PaDiM(fe, d=20, eps=0.01, seed=3, buffer_mb=0.05).fit(train.split(3))
    assert model.stats is None and model.chol.dtype == torch.float32
    emb = model.embed(fe(train)).flatten(2).permute(2, 0, 1).double().numpy()  # (P, N, d), float64 batch fit
    emb_test = model.embed(fe(test)).flatten(2).permute(2, 0, 1).double().numpy()
    ref = np.empty((emb.shape[0], 3))
    for p in range(emb.shape[0]):
        prec = np.linalg.inv(np.cov(emb[p], rowvar=False) + 0.01 * np.eye(20))
        delta = emb_test[p] - emb[p].mean(0)
        ref[p] = np.sqrt(np.einsum("bi,ij,bj->b", delta, prec, delta))
    scores, maps = model.predict(test)
    np.testing.assert_allclose(scores.numpy(), ref.max(0), rtol=1e-4)
    np.testing.assert_allclose(
        model.precision[5].numpy(),
        np.linalg.inv(np.cov(emb[5], rowvar=False) + 0.01 * np.eye(20)),
        rtol=1e-3,
        atol=1e-4 * np.abs(np.linalg.inv(np.cov(emb[5], rowvar=False))).max(),
    )
    assert maps.shape == (3, 64, 64)


def test_too_few_samples():
    rg = RunningGaussian(2, 3, dtype=torch.float32, block=100)
    rg.update(torch.zeros(2, 1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        rg.finalise()
