"""PatchCore's scores from a given memory bank equal a brute-force float64 computation of the paper's formulas
(and, when anomalib is installed, anomalib's own scoring code on the same features and bank)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.spatial.distance import cdist

from anoloc.knn import PatchCore
from tests.fake_extractor import FakeExtractor


def _paper_scores(patches: np.ndarray, bank: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Roth et al. 2022, eq. 6–7, by brute force: per image (B, P, D) → (image scores (B,), patch distances (B, P))."""
    scores, dists = [], []
    for img in patches:
        d = cdist(img, bank)  # (P, |bank|)
        s = d.min(1)
        i_star = int(s.argmax())
        m_star = int(d[i_star].argmin())
        neighbourhood = np.argsort(cdist(bank[m_star : m_star + 1], bank)[0], kind="stable")[:b]  # N_b(m*), m* first
        w = 1 - np.exp(s[i_star]) / np.exp(d[i_star, neighbourhood]).sum()
        scores.append(w * s[i_star])
        dists.append(s)
    return np.array(scores), np.array(dists)


def _model_with_bank(b: int) -> tuple[PatchCore, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    model = PatchCore(FakeExtractor(), reweight_b=b, blur_sigma=4.0)
    train = torch.randn(6, 3, 64, 64, generator=gen)
    bank_rows = PatchCore.flatten(model.embed(model.features(train)))
    model.bank = bank_rows[torch.randperm(len(bank_rows), generator=gen)[:60]].contiguous()  # any given bank
    model.fitted = True
    return model, torch.randn(3, 3, 64, 64, generator=gen) * 1.5


def test_scores_and_maps_equal_the_papers_formula_by_brute_force():
    model, test = _model_with_bank(b=9)
    scores, maps = model.predict(test)
    patches = PatchCore.flatten(model.embed(model.features(test))).double().numpy().reshape(3, 64, -1)
    ref_scores, ref_dists = _paper_scores(patches, model.bank.double().numpy(), 9)
    np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=1e-4)
    # map: the 8×8 patch distances, bilinear to 64², Gaussian σ = 4 (scipy's defaults: truncate 4, mode reflect)
    grid = torch.from_numpy(ref_dists.reshape(3, 1, 8, 8))
    up = torch.nn.functional.interpolate(grid, size=(64, 64), mode="bilinear", align_corners=False)[:, 0].numpy()
    ref_maps = np.stack([ndimage.gaussian_filter(m, sigma=4.0) for m in up])
    np.testing.assert_allclose(maps.numpy(), ref_maps, rtol=1e-4, atol=1e-5)


def test_scores_equal_anomalibs_scoring_on_the_same_features_and_bank():
    pytest.importorskip("anomalib")
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel

    model, test = _model_with_bank(b=9)
    scores, _ = model.predict(test)
    peer = PatchcoreModel(layers=["layer2", "layer3"], backbone="resnet18", pre_trained=False, num_neighbors=9)
    peer.memory_bank = model.bank.clone()
    embedding = PatchCore.flatten(model.embed(model.features(test)))
    patch_scores, locations = peer.nearest_neighbors(embedding, n_neighbors=1)
    theirs = peer.compute_anomaly_score(patch_scores.reshape(3, -1), locations.reshape(3, -1), embedding)
    np.testing.assert_allclose(scores.numpy(), theirs.numpy(), rtol=1e-4)
