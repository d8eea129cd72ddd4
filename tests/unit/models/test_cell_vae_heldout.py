"""Held-out NLL of the cell VAE and the per-image conditioning of a model, against independent computations."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from anoloc.models.cell_vae import CellVAE, diag_nll, fixed_var_nll, heldout_nll
from anoloc.models.supn import log_prob
from anoloc.models.supn_diagnostics import conditioning_frame, model_conditioning

TINY = {"image_size": 16, "depth": 2, "hidden_dim": 8, "latent_dim": 3}


@pytest.mark.parametrize("likelihood", ["fixed", "diag", "supn"])
def test_heldout_nll_is_the_mean_nll_over_latent_samples(likelihood):
    torch.manual_seed(0)
    m = CellVAE(**TINY, likelihood=likelihood, legacy_logvar_bias_init=True).double()
    x = torch.rand(5, 1, 16, 16, dtype=torch.float64) * 2 - 1
    got = heldout_nll(m, x, n_samples=3, generator=torch.Generator().manual_seed(4), batch_size=2)
    gen = torch.Generator().manual_seed(4)
    want = torch.zeros(5, dtype=torch.float64)
    with torch.no_grad():
        for lo in range(0, 5, 2):  # the same batches draw the same ε
            xb = x[lo : lo + 2]
            mu, logvar = m.encode(xb)
            for _ in range(3):
                z = m.sample_z(mu, logvar, gen)
                mean = m.decode_mean(z)
                if likelihood == "fixed":
                    nll = fixed_var_nll(xb, mean, m.fixed_var)
                elif likelihood == "diag":  # N(mean, diag(e^s)) written out (the training loss adds 1e-7 to e^s)
                    s = m.decode_precision(z)[:, :1]
                    quad = ((xb - mean) ** 2 * torch.exp(-s)).flatten(1).sum(1)
                    nll = 0.5 * (quad + s.flatten(1).sum(1) + 256 * math.log(2 * math.pi))
                    torch.testing.assert_close(nll, diag_nll(xb, mean, s), rtol=1e-6, atol=0)
                else:
                    out = m.decode_precision(z)
                    nll = -log_prob(xb, mean, out[:, :1], out[:, 1:])
                want[lo : lo + 2] += nll / 3
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-8)
    assert math.isfinite(float(got.sum()))


def test_model_conditioning_is_the_frame_at_the_posterior_mean():
    torch.manual_seed(1)
    m = CellVAE(**TINY, likelihood="supn")
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    got = model_conditioning(m, x, batch_size=2)
    with torch.no_grad():
        _, ld, od, c = m.whitening(m.encode(x)[0])
    want = conditioning_frame(ld, od, c)
    pd.testing.assert_frame_equal(got, want, rtol=1e-3)  # batches of 2 vs 3: float rounding, Lanczos tol
    diag = model_conditioning(CellVAE(**TINY, likelihood="diag"), x, singular_values=False)
    assert (diag.ratio_max == 0).all() and (diag.solve_growth == 1).all() and diag.sigma_min.isna().all()
