"""Conv VAE of the brain experiment and the five pixel-wise scores (finite differences, one-pass vs three passes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from anoloc.models import load_model, save_model
from anoloc.models.conv_vae import ConvVAE
from anoloc.models.vae import LOG_2PI
from anoloc.scores.names import PIXEL_SCORES
from anoloc.scores.vae import (
    gaussian_kernel,
    gaussian_smooth,
    global_combi,
    input_gradients_separate,
    pixel_scores,
)


def _tiny(legacy=False, log_c=0.0, seed=0):
    torch.manual_seed(seed)
    return ConvVAE(image_size=16, h_sizes=(2, 3, 4, 5), z=3, log_c=log_c, legacy_sigma=legacy).double().eval()


def test_parameter_count_matches_spec():
    m = ConvVAE()
    assert sum(p.numel() for p in m.encoder.parameters()) == 2_400_512
    assert sum(p.numel() for p in m.decoder.parameters()) == 1_351_936
    assert sum(p.numel() for p in m.parameters()) == 3_752_448
    assert all(getattr(layer, "bias", None) is None for layer in [*m.encoder, *m.decoder])


def test_shapes_and_eval_mode_uses_mu():
    m = ConvVAE(image_size=32, h_sizes=(4, 4, 8, 8), z=6).eval()
    x = torch.randn(3, 1, 32, 32)
    t1, t2 = m.terms(x), m.terms(x)
    assert t1["mean"].shape == (3, 1, 32, 32) and t1["mu"].shape == (3, 6, 1, 1)
    assert t1["rec_map"].shape == (3, 1, 32, 32)
    torch.testing.assert_close(t1["z"], t1["mu"])
    torch.testing.assert_close(t1["elbo"], t2["elbo"])
    with pytest.raises(ValueError, match="multiple of 16"):
        ConvVAE(image_size=40)


@pytest.mark.parametrize("legacy", [False, True])
def test_terms_by_hand(legacy):
    m = _tiny(legacy, log_c=0.3)
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    t = m.terms(x)
    enc = m.encoder(x)
    mu, h = enc[:, :3], enc[:, 3:]
    kl_std = torch.exp(torch.exp(h)) if legacy else torch.exp(0.5 * h)
    kl = (-torch.log(kl_std) + 0.5 * (kl_std**2 + mu**2) - 0.5).flatten(1).sum(1)
    mean = m.decoder(mu)
    c = math.exp(0.3)
    rec = ((x - mean) ** 2 / (2 * c**2) + math.log(c) + 0.5 * LOG_2PI).flatten(1).sum(1)
    torch.testing.assert_close(t["kl"], kl)
    torch.testing.assert_close(t["rec"], rec)


def test_save_load_roundtrip(tmp_path):
    m = ConvVAE(image_size=16, h_sizes=(2, 3, 4, 5), z=3, legacy_sigma=True)
    save_model(m, tmp_path / "m.pt", {"a": 1})
    m2, meta = load_model(tmp_path / "m.pt")
    assert isinstance(m2, ConvVAE) and m2.legacy_sigma == "conv" and meta == {"a": 1}
    x = torch.randn(2, 1, 16, 16)
    torch.testing.assert_close(m.eval().terms(x)["elbo"], m2.terms(x)["elbo"])


# ----------------------------------------------------------------------------------------- smoothing
def test_gaussian_kernel_matches_released_definition():
    k = gaussian_kernel(8, 3.0)  # even sizes are reduced by one, as smooth_tensor
    assert k.shape == (7, 7)
    r = np.arange(7) - 3
    ref = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 18.0)
    np.testing.assert_allclose(k.numpy(), ref / ref.sum(), rtol=1e-6)


def test_gaussian_smooth_is_zero_padded_depthwise_correlation():
    maps = torch.rand(2, 3, 12, 10, dtype=torch.float64)
    out = gaussian_smooth(maps)
    k = gaussian_kernel(7, 3.0, torch.float64).numpy()
    for b in range(2):
        for c in range(3):
            ref = ndi.correlate(maps[b, c].numpy(), k, mode="constant", cval=0.0)
            np.testing.assert_allclose(out[b, c].numpy(), ref, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------- pixel scores
def _finite_difference(m, x, term, eps=1e-6):
    grad = torch.zeros_like(x)
    flat = x.reshape(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            xp, xm = flat.clone(), flat.clone()
            xp[i] += eps
            xm[i] -= eps
            fp = m.terms(xp.view_as(x), sample=False)[term].sum()
            fm = m.terms(xm.view_as(x), sample=False)[term].sum()
            grad.view(-1)[i] = (fp - fm) / (2 * eps)
    return grad


@pytest.mark.parametrize("legacy", [False, True])
def test_gradient_maps_match_finite_differences(legacy):
    m = _tiny(legacy, log_c=0.2, seed=3)
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    s = pixel_scores(m, x, return_raw=True)
    fd = {term: _finite_difference(m, x, term) for term in ("kl", "rec", "elbo")}
    torch.testing.assert_close(s["kl_grad_raw"], fd["kl"].abs(), rtol=1e-5, atol=1e-7)
    for key, term in (("kl_grad", "kl"), ("rec_grad", "rec"), ("elbo_grad", "elbo")):
        torch.testing.assert_close(s[key], gaussian_smooth(fd[term].abs()), rtol=1e-5, atol=1e-7)
    # rec: the un-smoothed per-pixel NLL including its constant
    t = m.terms(x, sample=False)
    c = math.exp(0.2)
    torch.testing.assert_close(s["rec"], (x - t["mean"]) ** 2 / (2 * c**2) + math.log(c) + 0.5 * LOG_2PI)


def test_one_pass_equals_three_separate_passes_and_is_per_sample():
    m = _tiny(seed=5)
    x = torch.randn(4, 1, 16, 16, dtype=torch.float64)
    s = pixel_scores(m, x)
    ref = input_gradients_separate(m, x)
    for key, term in (("kl_grad", "kl"), ("rec_grad", "rec"), ("elbo_grad", "elbo")):
        torch.testing.assert_close(s[key], gaussian_smooth(ref[term]))
    single = pixel_scores(m, x[1:2])  # a slice's gradient maps do not depend on its batch
    for key in ("rec", "elbo_grad", "kl_grad", "rec_grad"):
        torch.testing.assert_close(single[key], s[key][1:2])
    assert set(s) == set(PIXEL_SCORES) and all(v.shape == x.shape for v in s.values())


def test_combi_normalisation_scopes():
    m = _tiny(seed=7)
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    s = pixel_scores(m, x, combi_norm="batch", return_raw=True)
    g = s["kl_grad_raw"]
    torch.testing.assert_close(s["combi"], gaussian_smooth((g - g.min()) / (g.max() - g.min())) * s["rec"])
    per_slice = pixel_scores(m, x, combi_norm="slice")
    for i in range(3):
        gi = g[i : i + 1]
        ref = gaussian_smooth((gi - gi.min()) / (gi.max() - gi.min())) * s["rec"][i : i + 1]
        torch.testing.assert_close(per_slice["combi"][i : i + 1], ref)
    lo, hi = 0.5 * float(g.min()), 2.0 * float(g.max())
    direct = pixel_scores(m, x, combi_norm="global", kl_range=(lo, hi))["combi"]
    torch.testing.assert_close(direct, gaussian_smooth((g - lo) / (hi - lo)) * s["rec"])
    # post hoc from the stored smoothed map (linearity of the smoothing)
    torch.testing.assert_close(global_combi(s["kl_grad"], s["rec"], lo, hi), direct)
    with pytest.raises(ValueError, match="kl_range"):
        pixel_scores(m, x, combi_norm="global")
    with pytest.raises(ValueError, match="combi_norm"):
        pixel_scores(m, x, combi_norm="volume")


def test_score_slices_global_equals_one_big_batch():
    from anoloc.experiments.brain.steps import score_slices

    torch.manual_seed(0)
    m = ConvVAE(image_size=16, h_sizes=(2, 3, 4, 5), z=3).eval()
    images = np.random.default_rng(0).normal(size=(5, 16, 16)).astype(np.float32)
    in_batches = score_slices(m, images, batch_size=2, combi_norm="global", device="cpu")
    one_batch = score_slices(m, images, batch_size=5, combi_norm="batch", device="cpu")
    for k in (*PIXEL_SCORES, "reconstruction", "slice_kl", "slice_rec", "slice_elbo"):
        np.testing.assert_allclose(in_batches[k], one_batch[k], rtol=2e-4, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(in_batches["kl_grad_range"], one_batch["kl_grad_range"], rtol=1e-6)
    per_batch = score_slices(m, images, batch_size=2, combi_norm="batch", device="cpu")
    assert not np.allclose(per_batch["combi"], one_batch["combi"])  # the batch scope really differs
