"""The cell VAE (spec supn-cells §2.4–§2.6): architecture, likelihoods, losses, two-stage training, restarts."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import torch

from anoloc.data.cells import CellSplit, save_prepared
from anoloc.experiments.cells import steps as exp
from anoloc.models import RunFiles, history_frame, load_model
from anoloc.models.cell_vae import CellVAE, diag_nll, fixed_var_nll, precision_stage_loss
from anoloc.models.supn import log_prob
from anoloc.utils import AnolocError
from tests.helpers import section

SMALL = section("cells", "model", hidden_dim=8, latent_dim=3)
QUIRKS = section("cells", "quirks")


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_released_architecture():
    m = CellVAE(likelihood="supn")  # spec §2.4: encoder 232,638; mean decoder 193,681; var decoder 220,005
    assert (n_params(m.encoder), n_params(m.mean_decoder), n_params(m.var_decoder)) == (232_638, 193_681, 220_005)
    x = torch.zeros(2, 1, 128, 128)
    assert m.decode_precision(torch.zeros(2, 100)).shape == (2, 5, 128, 128)
    assert CellVAE(likelihood="supn", connectivity=2).decode_precision(torch.zeros(1, 100)).shape[1] == 13
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (2, 100)


def test_head_initialisation_and_legacy_bias():
    torch.manual_seed(0)
    m = CellVAE(**SMALL)
    for head in (m.encoder.dense_mu, m.encoder.dense_logvar):
        assert not head.weight.any() and not head.bias.any()
    legacy = CellVAE(**SMALL, legacy_logvar_bias_init=True)
    assert not legacy.encoder.dense_logvar.weight.any() and legacy.encoder.dense_logvar.bias.any()


def test_diag_channel_range():
    m = CellVAE(**SMALL, likelihood="supn")
    with torch.no_grad():
        m.var_decoder.blocks[-1][-1].bias.fill_(1e3)  # saturate the sigmoid both ways
        lo = m.decode_precision(torch.zeros(1, 3))[:, 0]
        m.var_decoder.blocks[-1][-1].bias.fill_(-1e3)
        hi = m.decode_precision(torch.zeros(1, 3))[:, 0]
    assert torch.allclose(lo, torch.tensor(-7.0)) and torch.allclose(hi, torch.tensor(4.0))


@pytest.mark.parametrize("legacy", [False, True])
def test_reparametrisation(legacy):
    m = CellVAE(**SMALL, legacy_reparam=legacy)
    mu, logvar = torch.full((1, 3), 0.5), torch.full((1, 3), 0.8)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    eps = torch.randn(1, 3, generator=g2)
    std = math.exp(0.8) if legacy else math.exp(0.4)
    torch.testing.assert_close(m.sample_z(mu, logvar, g1), mu + std * eps)


def test_likelihood_losses_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.randn(2, 1, 4, 5, generator=g, dtype=torch.float64), torch.randn(2, 1, 4, 5, generator=g).double()
    ref = -torch.distributions.Normal(mean, math.sqrt(0.11)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(fixed_var_nll(x, mean, 0.11), ref)
    s = torch.randn(2, 1, 4, 5, generator=g, dtype=torch.float64)
    ref = -torch.distributions.Normal(mean, torch.sqrt(torch.exp(s) + 1e-7)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(diag_nll(x, mean, s), ref, rtol=1e-6, atol=1e-6)
    # the released ¼ factor: ½·Σs − ¼·Σs less
    torch.testing.assert_close(
        diag_nll(x, mean, s, legacy_quarter=True), diag_nll(x, mean, s) - 0.25 * s.sum((1, 2, 3))
    )


def test_whitening_of_the_three_likelihoods():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 128, 128)
    z = torch.randn(2, 3)
    fixed = CellVAE(**SMALL)
    torch.testing.assert_close(fixed.mahalanobis_map(x, z), (x - fixed.decode_mean(z)) ** 2 / 0.11)
    diag = CellVAE(**SMALL, likelihood="diag")
    s = diag.decode_precision(z)[:, :1]
    torch.testing.assert_close(diag.mahalanobis_map(x, z), (x - diag.decode_mean(z)) ** 2 / torch.exp(s))
    sup = CellVAE(**SMALL, likelihood="supn")
    mean, ld, od, c = sup.whitening(z)
    assert c == 1 and od.shape == (2, 4, 128, 128)
    lp = log_prob(x, mean, ld, od, c)
    ref = 2 * (ld.sum((1, 2, 3)) - lp) - 16384 * math.log(2 * math.pi)  # log p = −½N log 2π + Σℓ − ½ Σ map
    torch.testing.assert_close(sup.mahalanobis_map(x, z).sum((1, 2, 3)), ref, rtol=1e-4, atol=0)


def test_supn_stage_loss_terms():
    torch.manual_seed(0)
    m = CellVAE(**SMALL, likelihood="supn")
    x = torch.randn(3, 1, 128, 128)
    torch.manual_seed(5)
    out = precision_stage_loss(m, (x,), l1_weight=100.0)
    torch.manual_seed(5)
    mu, logvar = m.encode(x)
    z = m.sample_z(mu, logvar)
    mean, ld, od, c = m.whitening(z)
    ref = (-log_prob(x, mean, ld, od, c) + m.kl(mu, logvar)).mean() + 100.0 * od.abs().mean()
    torch.testing.assert_close(out["loss"], ref)


# ------------------------------------------------------------------------------------------- training
@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)

    def split(n):
        return CellSplit(
            images=rng.integers(0, 255, (n, 128, 128), dtype=np.uint8),
            masks=np.zeros((n, 128, 128), bool) | (np.arange(128) > 40)[None, :, None],
            names=[f"{i:05d}.png" for i in range(n)],
        )

    path = tmp_path / "cells.npz"
    save_prepared(
        {"healthy_train": split(8), "healthy_test": split(2), "infected": split(2)}, path, {"content_sha256": "x"}
    )
    return path


TRAIN = section("cells", "train_mean", epochs=2, batch_size=4, lr=1e-3, collapse_threshold=0.0)
TRAIN_PRECISION = section("cells", "train_precision", epochs=2, batch_size=4, lr=1e-3)


def train_mean(npz, cfg, seed, out_dir):
    files = RunFiles(out_dir / "m.pt", out_dir / "m.csv", out_dir / "run")
    exp.train_mean(npz, SMALL, QUIRKS, cfg, seed, files, device="cpu")


def test_stage2_leaves_encoder_and_mean_bit_identical(tiny_npz, tmp_path):
    train_mean(tiny_npz, TRAIN, 0, tmp_path)
    base, _ = load_model(tmp_path / "m.pt")
    for lik in ("supn", "diag"):
        quirks = {**QUIRKS, "l1_reg_weight": 10.0}
        files = RunFiles(tmp_path / f"{lik}.pt", tmp_path / f"{lik}.csv", tmp_path / f"run_{lik}")
        exp.train_precision(tiny_npz, tmp_path / "m.pt", lik, quirks, TRAIN_PRECISION, 0, files, device="cpu")
        model, meta = load_model(tmp_path / f"{lik}.pt")
        assert model.likelihood == lik and len(meta["history"]) == 2
        for part in ("encoder", "mean_decoder"):
            for k, v in getattr(base, part).state_dict().items():
                assert torch.equal(getattr(model, part).state_dict()[k], v), (lik, part, k)
        # and the precision decoder did learn
        fresh = CellVAE(**{**base.hparams, "likelihood": lik})
        assert any(
            not torch.equal(a, b)
            for a, b in zip(fresh.var_decoder.parameters(), model.var_decoder.parameters(), strict=True)
        )


def test_mean_stage_learns(tiny_npz, tmp_path):
    cfg = {**TRAIN, "epochs": 6, "lr": 3e-3}
    train_mean(tiny_npz, cfg, 0, tmp_path)
    hist = history_frame(tmp_path / "m.pt")
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert (hist["lr"].iloc[-1], hist["lr"].iloc[0]) == pytest.approx((3e-4, 3e-3))  # ×0.1 at 60 %


def test_mean_collapse_restarts_with_a_new_seed(tiny_npz, tmp_path, monkeypatch, caplog):
    real_check = exp.mean_collapse_check

    def collapse_only_first_attempt(threshold, n_samples, every, spe, seed):
        return real_check(math.inf if seed == 7 else 0.0, n_samples, 1, spe, seed)

    monkeypatch.setattr(exp, "mean_collapse_check", collapse_only_first_attempt)
    with caplog.at_level(logging.WARNING):
        train_mean(tiny_npz, TRAIN, 7, tmp_path)
    _, meta = load_model(tmp_path / "m.pt")
    assert meta["restarts"] == 1 and meta["train_seed"] != 7
    assert "mean collapse" in caplog.text
    assert json.loads((tmp_path / "run" / "attempt.json").read_text())["attempt"] == 1
    assert len(meta["history"]) == 2  # the restarted run trained from scratch for the full schedule


def test_mean_collapse_gives_up_after_max_restarts(tiny_npz, tmp_path):
    cfg = {**TRAIN, "collapse_threshold": 1e9, "collapse_check_steps": 1, "max_restarts": 1}
    with pytest.raises(AnolocError, match="collapsed to a constant mean 2 times"):
        train_mean(tiny_npz, cfg, 0, tmp_path)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_preprocessing_and_flips():
    img = np.arange(128 * 128, dtype=np.float64).reshape(1, 128, 128) % 251
    x = exp.to_tensor(img.astype(np.uint8))
    assert x.shape == (1, 1, 128, 128) and x.min() == pytest.approx(-1) and x.max() == pytest.approx(1, abs=1e-6)
    torch.testing.assert_close(exp.to_tensor(img.astype(np.uint8), transpose=True)[0, 0], x[0, 0].T)
    torch.manual_seed(0)
    batch = torch.arange(4 * 4, dtype=torch.float32).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    (out,) = exp.random_flips((batch,))
    variants = {tuple(o.flatten().tolist()) for o in out}
    assert len(variants) == 4  # identity, h-flip, v-flip, both


def test_test_set_order_labels_and_blur(tiny_npz):
    x, masks, frame = exp.test_set(tiny_npz, QUIRKS)
    assert list(frame.columns) == ["split", "name", "label"]
    assert frame["label"].tolist() == [0, 0, 1, 1] and frame["split"].iloc[-1] == "infected"
    assert masks.dtype == torch.bool and masks.shape == x.shape == (4, 1, 128, 128)
    blurred, _, _ = exp.test_set(tiny_npz, {**QUIRKS, "test_blur": True, "test_blur_kernel": 5, "test_blur_sigma": 2.0})
    from torchvision.transforms import GaussianBlur

    torch.testing.assert_close(blurred, GaussianBlur(5, 2.0)(x))
