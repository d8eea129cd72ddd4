"""Cell scores (spec supn-cells §3): tile scoring against a naive loop, sampled and restoration variants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc.models.cell_vae import CellVAE
from anoloc.scores.cells import gaussian_blur, restore_latent, sampled_scores, score_cells, tile_scores


def naive_tile_scores(maps, masks, tile=4):
    out = []
    for m, k in zip(maps[:, 0].numpy(), masks[:, 0].numpy(), strict=True):
        best = -np.inf
        any_tile = k.any()
        for i in range(0, m.shape[0], tile):
            for j in range(0, m.shape[1], tile):
                if k[i : i + tile, j : j + tile].any() or not any_tile:
                    best = max(best, m[i : i + tile, j : j + tile].sum())
        out.append(best)
    return np.array(out)


def test_tile_scores_equal_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 1, 32, 24, generator=g, dtype=torch.float64) ** 4 * 10
    masks = torch.zeros(5, 1, 32, 24, dtype=torch.bool)
    masks[0, 0, 10:20, 5:9] = True
    masks[1, 0, 3, 22] = True  # a single pixel
    masks[2] = torch.rand(1, 32, 24, generator=g) > 0.7
    # masks[3] empty → all tiles; masks[4] full
    masks[4] = True
    got = tile_scores(maps, masks).numpy()
    np.testing.assert_allclose(got, naive_tile_scores(maps, masks), rtol=1e-12)
    assert got[4] == pytest.approx(naive_tile_scores(maps, torch.ones_like(masks))[4])


def test_tile_score_ignores_tiles_outside_the_mask():
    maps = torch.zeros(1, 1, 8, 8)
    maps[0, 0, 0, 0] = 100.0  # outside the mask
    maps[0, 0, 5, 5] = 1.0
    masks = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    masks[0, 0, 6, 6] = True  # tile (4:8, 4:8)
    assert tile_scores(maps, masks).item() == 1.0


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = CellVAE(hidden_dim=8, latent_dim=3, likelihood="supn").eval()
    with torch.no_grad():
        m.encoder.dense_logvar.bias.fill_(-1.0)
    return m


def test_sampled_scores_are_means_of_per_sample_maxima(model):
    x = torch.randn(3, 1, 128, 128)
    masks = torch.zeros(3, 1, 128, 128, dtype=torch.bool)
    masks[:, :, 40:90, 30:100] = True
    got = sampled_scores(model, x, masks, 4, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        ref = []
        for _ in range(4):
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            mean, ld, od, _c = model.whitening(z)
            r = x - mean
            # Lᵀr by hand for connectivity 1: right, bottom-left, bottom, bottom-right neighbours
            rp = torch.nn.functional.pad(r, (1, 1, 0, 1))
            u = ld.exp() * r + od[:, 0:1] * rp[:, :, :-1, 2:] + od[:, 1:2] * rp[:, :, 1:, :-2]
            u = u + od[:, 2:3] * rp[:, :, 1:, 1:-1] + od[:, 3:4] * rp[:, :, 1:, 2:]
            ref.append(naive_tile_scores(u**2, masks))
    np.testing.assert_allclose(got.numpy(), np.mean(ref, 0), rtol=2e-5)


def test_restoration_lowers_the_objective_and_leaves_the_model_alone(model):
    x = torch.randn(2, 1, 128, 128)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    z = restore_latent(model, x, steps=15, lr=0.05, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z0 = model.sample_z(mu, logvar, gen)
        assert (model.mahalanobis_map(x, z).sum((1, 2, 3)) < model.mahalanobis_map(x, z0).sum((1, 2, 3))).all()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("variant", ["sampled", "restoration"])
def test_score_cells_is_reproducible_and_flags_a_bright_spot(model, variant):
    torch.manual_seed(1)
    x = torch.zeros(4, 1, 128, 128)
    masks = torch.zeros(4, 1, 128, 128, dtype=torch.bool)
    masks[:, :, 32:96, 32:96] = True
    x[2:, :, 60:64, 60:64] = 25.0  # a bright punctum inside the cell
    kw = {"n_samples": 3, "steps": 3, "batch_size": 3, "seed": 5}
    a = score_cells(model, x, masks, variant, **kw)
    b = score_cells(model, x, masks, variant, **kw)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4,) and a[2:].min() > a[:2].max()


def test_gaussian_blur_is_torchvision_k5_sigma2():
    x = torch.zeros(1, 1, 11, 11)
    x[0, 0, 5, 5] = 1.0
    y = gaussian_blur(x, 5, 2.0)[0, 0]
    k1 = torch.exp(-0.5 * (torch.arange(-2, 3, dtype=torch.float32) / 2.0) ** 2)
    k1 = k1 / k1.sum()
    torch.testing.assert_close(y[3:8, 3:8], torch.outer(k1, k1))
    assert y.sum().item() == pytest.approx(1.0, abs=1e-6)
