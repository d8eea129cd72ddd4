"""PatchCore: greedy coreset, projection, reweighting (paper eq. 7 and ind_knn_ad's variant), batch-flatten bug."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.random_projection import SparseRandomProjection, johnson_lindenstrauss_min_dim

from anoloc.knn.patchcore import PatchCore, greedy_coreset, jl_dim, sparse_projection_matrix
from tests.unit.knn.test_methods import FakeExtractor, defect_image, normal_images  # noqa: F401 (fixtures)


def test_greedy_coreset_picks_the_farthest_point_each_step():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(size=(40, 2)), rng.normal(loc=6.0, size=(10, 2)), [[20.0, -20.0]]])
    sel = greedy_coreset(torch.from_numpy(pts).float(), 12).tolist()
    assert sel[0] == 0 and len(set(sel)) == 12
    for i in range(1, 12):
        d = np.linalg.norm(pts[:, None] - pts[sel[:i]][None], axis=2).min(1)
        assert sel[i] == int(np.argmax(d)), f"step {i}"
    assert sel[1] == 50  # the outlier is farthest from the start point
    assert len(greedy_coreset(torch.randn(5, 3), 10)) == 5


def test_projection_follows_sklearn():
    assert jl_dim(78400, 0.9) == johnson_lindenstrauss_min_dim(78400, eps=0.9) == 278
    x = np.random.default_rng(0).normal(size=(30, 50)).astype(np.float32)
    srp = SparseRandomProjection(n_components=8, random_state=5).fit(x)
    proj = sparse_projection_matrix(50, 8, seed=5)
    np.testing.assert_allclose(x @ proj.numpy(), srp.transform(x), rtol=1e-5, atol=1e-5)


def _fitted_bank(bank: torch.Tensor, **kw) -> PatchCore:
    pc = PatchCore(FakeExtractor(), **kw)
    pc.bank = bank
    return pc


def test_reweighting_matches_eq7_and_ind_knn_ad():
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(30, 4, generator=gen)
    m_test = torch.randn(1, 4, generator=gen) * 2
    d_all = torch.cdist(m_test, bank)[0]
    nn_idx = int(d_all.argmin())
    s_star = d_all[nn_idx]
    order = torch.cdist(bank[nn_idx : nn_idx + 1], bank)[0].argsort()  # neighbours of m*, m* itself first

    # paper eq. 7: w = 1 - exp(s*) / sum_{m in N_b(m*)} exp(||m_test - m||), N_b = the b nearest bank patches of m*
    w = _fitted_bank(bank, reweight_b=9)._reweight(m_test, torch.tensor([nn_idx]), s_star[None])
    ref = 1 - math.exp(float(s_star)) / sum(math.exp(float(d_all[j])) for j in order[:9])
    assert float(w) == pytest.approx(ref, rel=1e-5)

    # ind_knn_ad: n_reweight = 3 neighbours of m*, the first (m* itself) dropped, distances / sqrt(D)
    w = _fitted_bank(bank, reweight_b=3, legacy_reweight=True)._reweight(m_test, torch.tensor([nn_idx]), s_star[None])
    scale = math.sqrt(4)
    ref = 1 - math.exp(float(s_star) / scale) / sum(math.exp(float(d_all[j]) / scale) for j in order[1:3])
    assert float(w) == pytest.approx(ref, rel=1e-5)


def test_legacy_batch_flatten_mixes_batch_and_channels():
    e = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)  # (B, D, h, w)
    rows = PatchCore.flatten(e)
    assert rows.shape == (8, 3)
    assert torch.equal(rows[5], e[1, :, 0, 1])  # patch (b=1, y=0, x=1) keeps its own channel vector
    legacy = PatchCore.flatten(e, legacy=True)
    assert torch.equal(legacy, e.reshape(3, -1).T)
    assert not torch.equal(legacy, rows)
    assert torch.equal(PatchCore.flatten(e[:1], legacy=True), PatchCore.flatten(e[:1]))  # batch 1: no bug


def test_patchcore_coreset_bank_and_scores(normal_images, defect_image):  # noqa: F811
    fe = FakeExtractor()
    model = PatchCore(fe, coreset_fraction=0.25, reweight_b=3, blur_sigma=0).fit(normal_images.split(4))
    assert model.bank.shape == (int(0.25 * 12 * 64), 12 + 16)  # 8×8 layer-2 grid, 12 + 16 channels
    scores, maps = model.predict(torch.cat([normal_images[:1], defect_image]))
    # without blur the map is the upsampled nearest-bank distance of each patch
    patches = PatchCore.flatten(model.embed(fe(defect_image)))
    nn_dist = torch.cdist(patches, model.bank).min(1).values.reshape(1, 1, 8, 8)
    ref = torch.nn.functional.interpolate(nn_dist, size=(64, 64), mode="bilinear", align_corners=False)[0, 0]
    assert torch.allclose(maps[1], ref, atol=1e-4)
    assert scores[1] > scores[0]
    legacy = PatchCore(fe, coreset_fraction=1.0, legacy_pooling=True, legacy_patchcore_batch=True)
    legacy.fit(normal_images.split(4))
    assert legacy.bank.shape == (12 * 64, 28)
