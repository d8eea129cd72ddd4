"""VAE terms against hand computations and independent estimates."""

from __future__ import annotations

import math

import pytest
import torch

from anoloc.models.fc_vae import FCVAE
from anoloc.models.vae import gaussian_nll, kl_std_normal, posterior_log_std


def test_gaussian_nll_matches_torch_normal():
    x, mean = torch.rand(3, 7, dtype=torch.float64), torch.rand(3, 7, dtype=torch.float64)
    for log_std in (-1.0, 0.0, 1.4):
        ref = -torch.distributions.Normal(mean, math.exp(log_std)).log_prob(x)
        torch.testing.assert_close(gaussian_nll(x, mean, log_std), ref)


def test_gaussian_nll_constant_for_unit_std():
    # the spec's per-pixel constant ½·log 2π = 0.9189 at a perfect reconstruction with σ = 1
    assert gaussian_nll(torch.zeros(1), torch.zeros(1), 0.0).item() == pytest.approx(0.918939, abs=1e-6)


def test_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5, 0.2, 0.0]], dtype=torch.float64)
    q = torch.distributions.Normal(mu, log_std.exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    analytic = kl_std_normal(mu, log_std)
    assert analytic.item() == pytest.approx(mc.item(), rel=5e-3)
    torch.testing.assert_close(analytic, torch.distributions.kl_divergence(q, p).sum(-1))


def test_posterior_log_std_modes():
    h = torch.tensor([0.4])
    assert [t.item() for t in posterior_log_std(h)] == pytest.approx([0.2, 0.2])
    assert [t.item() for t in posterior_log_std(h, "fc")] == pytest.approx([0.2, 0.4])
    assert [t.item() for t in posterior_log_std(h, "conv")] == pytest.approx([0.4, math.exp(0.4)])


@pytest.mark.parametrize("legacy", [False, True])
def test_fc_vae_terms_by_hand(legacy):
    torch.manual_seed(1)
    model = FCVAE(in_pixels=6, hidden=5, z=3, scaling=2, log_c=0.7, legacy_sigma=legacy).double().eval()
    x = torch.rand(4, 1, 2, 3, dtype=torch.float64)
    t = model.terms(x)  # eval → z = μ
    flat = x.flatten(1).repeat(1, 2)  # tiled s = 2 times
    hid = torch.relu(flat @ model.enc[0].weight.T + model.enc[0].bias)
    mu = hid @ model.enc_mu.weight.T + model.enc_mu.bias
    h = hid @ model.enc_h.weight.T + model.enc_h.bias
    dec = model.dec
    mean = torch.sigmoid(torch.relu(mu @ dec[0].weight.T + dec[0].bias) @ dec[2].weight.T + dec[2].bias)
    c = math.exp(0.7)
    rec = ((flat - mean) ** 2 / (2 * c**2) + math.log(c) + 0.5 * math.log(2 * math.pi)).sum(1)
    kl_std = h.exp() if legacy else (0.5 * h).exp()
    kl = (-kl_std.log() + (kl_std**2 + mu**2) / 2 - 0.5).sum(1)
    torch.testing.assert_close(t["rec"], rec)
    torch.testing.assert_close(t["kl"], kl)
    torch.testing.assert_close(t["elbo"], kl + rec)
    assert t["rec_map"].shape == (4, 12)


def test_fc_vae_parameter_count_matches_spec():
    assert sum(p.numel() for p in FCVAE().parameters()) == 652_824
