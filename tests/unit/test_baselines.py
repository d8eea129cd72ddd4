"""The two non-deep baselines against brute-force computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc.baselines import NearestNeighbour, ZScoreThreshold, build_baseline


def _batches(x: torch.Tensor, size: int):
    return (x[i : i + size] for i in range(0, len(x), size))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("two_sided", [False, True])
def test_zscore_matches_brute_force(channels, two_sided):
    rng = np.random.default_rng(0)
    train = rng.normal(0.3, 0.1, (7, channels, 6, 5))
    test = rng.normal(0.35, 0.2, (4, channels, 6, 5))
    m = ZScoreThreshold(quantile=0.9, two_sided=two_sided).fit(_batches(torch.from_numpy(train).float(), 3))
    scores, maps = m.predict(torch.from_numpy(test).float())
    mu = train.mean(axis=(0, 2, 3)).reshape(1, -1, 1, 1)
    sd = train.std(axis=(0, 2, 3)).reshape(1, -1, 1, 1)
    z = ((test - mu) / sd).mean(axis=1)
    z = np.abs(z) if two_sided else z
    np.testing.assert_allclose(maps.numpy(), z, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores.numpy(), np.quantile(z.reshape(4, -1), 0.9, axis=1), rtol=1e-4, atol=1e-4)
    assert maps.shape == (4, 6, 5) and scores.shape == (4,)


def test_zscore_max_and_monotone_in_intensity():
    x = torch.rand(3, 1, 4, 4)
    m = ZScoreThreshold(quantile=1.0).fit([x])
    scores, maps = m.predict(x)
    torch.testing.assert_close(scores, maps.flatten(1).amax(1))
    # one-sided z is an increasing affine function of the intensity: same order of the pixels
    order_maps = torch.argsort(maps.flatten())
    assert torch.equal(order_maps, torch.argsort(x.flatten()))
    with pytest.raises(RuntimeError):
        ZScoreThreshold().predict(x)
    with pytest.raises(ValueError):
        ZScoreThreshold(quantile=0.0)
    with pytest.raises(ValueError):
        ZScoreThreshold().fit([])


@pytest.mark.parametrize("channels", [1, 3])
def test_nearest_neighbour_matches_brute_force(channels):
    rng = np.random.default_rng(1)
    train = rng.random((23, channels, 5, 4))
    test = np.concatenate([train[[3, 11]] + rng.normal(0, 0.01, (2, channels, 5, 4)), rng.random((3, channels, 5, 4))])
    m = NearestNeighbour(chunk_size=4).fit(_batches(torch.from_numpy(train).float(), 5))
    scores, maps = m.predict(torch.from_numpy(test).float())
    assert m.n_train == 23 and scores.shape == (5,) and maps.shape == (5, 5, 4)
    for i, q in enumerate(test):
        d = np.array([np.sqrt(((q - t) ** 2).sum()) for t in train])
        j = int(d.argmin())
        np.testing.assert_allclose(scores[i].item(), d[j], rtol=1e-5)
        np.testing.assert_allclose(maps[i].numpy(), np.abs(q - train[j]).mean(axis=0), rtol=1e-5, atol=1e-6)
    assert scores[:2].max() < scores[2:].min()  # near-copies of training images score lowest


def test_build_baseline_and_errors():
    assert isinstance(build_baseline("zscore", {"quantile": 0.5}), ZScoreThreshold)
    assert isinstance(build_baseline("nearest"), NearestNeighbour)
    with pytest.raises(ValueError):
        build_baseline("lof")
    m = NearestNeighbour().fit([torch.zeros(2, 1, 3, 3)])
    with pytest.raises(ValueError):
        m.predict(torch.zeros(1, 1, 4, 4))
