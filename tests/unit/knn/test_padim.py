"""PaDiM: streaming Gaussian statistics equal the batch ones; Mahalanobis equals scipy's; constant memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis

from anoloc.knn.padim import PaDiM, RunningGaussian, mahalanobis
from tests.fake_extractor import FakeExtractor
from tests.unit.knn.test_methods import defect_image, normal_images  # noqa: F401 (fixtures)


def test_streaming_statistics_equal_numpy_mean_and_covariance():
    rng = np.random.default_rng(0)
    positions, dim = 5, 6
    data = rng.normal(loc=1000.0, scale=2.0, size=(positions, 16, dim))  # large offset: cancellation check
    data += rng.normal(size=(positions, 1, dim)) * np.arange(1, dim + 1)  # correlated, per-position different
    rg = RunningGaussian(positions, dim)
    start = 0
    for size in (3, 5, 1, 7):  # uneven batches
        rg.update(torch.from_numpy(data[:, start : start + size]))
        start += size
    mean, cov = rg.finalise()
    for p in range(positions):
        np.testing.assert_allclose(mean[p].numpy(), data[p].mean(0), rtol=1e-12)
        np.testing.assert_allclose(cov[p].numpy(), np.cov(data[p], rowvar=False, ddof=1), rtol=1e-9, atol=1e-9)


def test_running_state_does_not_grow_with_samples():
    rg = RunningGaussian(7, 4)
    sizes = [t.numel() for t in (rg.s1, rg.s2)]
    for _ in range(20):
        rg.update(torch.randn(7, 50, 4))
    assert [t.numel() for t in (rg.s1, rg.s2)] == sizes
    assert rg.n == 1000
    with pytest.raises(ValueError, match="at least 2"):
        RunningGaussian(1, 2).finalise()


def test_mahalanobis_equals_scipy():
    rng = np.random.default_rng(1)
    positions, batch, dim = 3, 4, 5
    mean = rng.normal(size=(positions, dim))
    a = rng.normal(size=(positions, dim, dim))
    precision = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(dim)
    x = rng.normal(size=(positions, batch, dim))
    ours = mahalanobis(torch.from_numpy(x), torch.from_numpy(mean), torch.from_numpy(precision)).numpy()
    for p in range(positions):
        for b in range(batch):
            assert ours[p, b] == pytest.approx(scipy_mahalanobis(x[p, b], mean[p], precision[p]), rel=1e-10)


def test_padim_fit_matches_embeddings_and_detects_defect(normal_images, defect_image):  # noqa: F811
    fe = FakeExtractor()
    model = PaDiM(fe, d=20, eps=0.01, seed=3).fit(normal_images.split(4))
    # the fitted Gaussian is the mean / covariance (+εI) of the embeddings at each position
    emb = model.embed(fe(normal_images)).flatten(2).permute(2, 0, 1).double()  # (P, N, d)
    np.testing.assert_allclose(model.mean.numpy(), emb.mean(1).numpy(), rtol=1e-4, atol=1e-5)
    p = 17
    cov = np.cov(emb[p].numpy(), rowvar=False) + 0.01 * np.eye(20)
    np.testing.assert_allclose(model.precision[p].numpy(), np.linalg.inv(cov), rtol=1e-3, atol=1e-3)
    scores, maps = model.predict(torch.cat([normal_images[:2], defect_image]))
    assert maps.shape == (3, 64, 64)
    assert scores[2] > scores[:2].max()
    peak = np.unravel_index(int(maps[2].argmax()), (64, 64))
    assert 16 <= peak[0] < 44 and 16 <= peak[1] < 44  # the defect square is at 24..36


def test_padim_channel_subset_is_seeded_and_capped(caplog):
    fe = FakeExtractor()
    a, b, c = PaDiM(fe, d=10, seed=0), PaDiM(fe, d=10, seed=0), PaDiM(fe, d=10, seed=1)
    cat = lambda m: torch.cat([m.channel_idx[s] + off for s, off in zip(m.stages, (0, 8, 20), strict=True)])  # noqa: E731
    assert torch.equal(cat(a), cat(b)) and not torch.equal(cat(a), cat(c))
    assert len(cat(a)) == 10 and len(set(cat(a).tolist())) == 10
    assert PaDiM(fe, d=1000).d == 8 + 12 + 16
    assert "available channels" in caplog.text
