"""`CellVAE(offdiag_bound=ρ̄)`: the bounded SUPN parametrisation is row-diagonally dominant, hence its sampler and
smallest singular value are bounded (checked with a dense float64 inverse and SVD); off by default."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from anoloc.models import load_model, save_model, supn
from anoloc.models.cell_vae import CellVAE, precision_stage_loss
from anoloc.models.supn_diagnostics import dominance_ratio, smallest_singular_value

TINY = {"image_size": 16, "depth": 2, "hidden_dim": 8, "latent_dim": 3, "likelihood": "supn"}


def dense_upper(log_diag, off_diag):
    """Dense Lᵀ of one image from the sparse factor (independent of the bound under test)."""
    return supn.upper_factor(log_diag, off_diag).toarray()


def wild(model, scale=200.0, seed=0):
    """Blow up the raw off-diagonal outputs so that the unbounded model would be far from dominant."""
    torch.manual_seed(seed)
    with torch.no_grad():
        last = model.var_decoder.blocks[-1][-1]
        last.weight[1:] *= scale
        last.bias[1:] = scale * torch.randn(last.bias.shape[0] - 1)
    return model


def test_default_is_the_published_parametrisation():
    torch.manual_seed(0)
    m = CellVAE(**TINY)
    assert "offdiag_bound" not in m.hparams and m.offdiag_bound is None
    z = torch.randn(2, 3)
    with torch.no_grad():
        raw = m.var_decoder(z)
        out = m.decode_precision(z)
    torch.testing.assert_close(out[:, 1:], raw[:, 1:], rtol=0, atol=0)


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_bound_gives_diagonal_dominance_and_a_lower_bound_on_sigma_min(rho):
    torch.manual_seed(1)
    free = wild(CellVAE(**TINY))
    torch.manual_seed(1)
    bounded = wild(CellVAE(**TINY, offdiag_bound=rho))
    z = torch.randn(3, 3)
    with torch.no_grad():
        _, ld_free, od_free, _ = free.whitening(z)
        _, ld, od, c = bounded.whitening(z)
        raw = bounded.var_decoder(z)[:, 1:]
    assert dominance_ratio(ld_free, od_free).max() > 10  # unbounded: far from dominant
    torch.testing.assert_close(ld, ld_free)  # the diagonal is untouched
    want = rho * torch.exp(ld) * raw / (1 + raw.abs().sum(1, keepdim=True))
    torch.testing.assert_close(od, want)
    assert dominance_ratio(ld, od).max() < rho
    n = 16 * 16
    for k in range(3):
        a = dense_upper(ld[k].double(), od[k].double())
        alpha = (1 - rho) * math.exp(float(ld[k].min()))
        assert np.abs(np.linalg.inv(a)).sum(1).max() <= (1 + 1e-6) / alpha  # ‖A⁻¹‖_∞ ≤ 1/((1−ρ̄) min d)
        smin = np.linalg.svd(a, compute_uv=False).min()
        assert smin >= alpha / math.sqrt(n)
        assert smallest_singular_value(ld[k].double(), od[k].double(), c) == pytest.approx(smin, rel=1e-4)


def test_bounded_model_trains_saves_and_loads(tmp_path):
    torch.manual_seed(2)
    m = CellVAE(**TINY, offdiag_bound=0.9)
    params = m.freeze_mean_path()
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    out = precision_stage_loss(m, (x,), l1_weight=1.0)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
    save_model(m, tmp_path / "m.pt")
    again, _ = load_model(tmp_path / "m.pt")
    assert again.offdiag_bound == 0.9
    z = torch.randn(2, 3)
    with torch.no_grad():
        torch.testing.assert_close(again.decode_precision(z), m.decode_precision(z))


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5])
def test_bound_outside_the_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match="offdiag_bound"):
        CellVAE(**TINY, offdiag_bound=bad)
