"""The stage-2 SUPN loss with λ_L1 = 0 builds no graph for the L1 term, yet gives the loss and gradients of the
written-out objective −log p + KL + 0·mean|w| exactly."""

from __future__ import annotations

import torch

from anoloc.models import supn
from anoloc.models.cell_vae import CellVAE, precision_stage_loss

TINY = {"image_size": 16, "depth": 2, "hidden_dim": 8, "latent_dim": 3, "likelihood": "supn"}


def test_zero_l1_weight_is_exactly_the_written_out_objective():
    torch.manual_seed(0)
    m = CellVAE(**TINY)
    params = m.freeze_mean_path()
    x = torch.rand(4, 1, 16, 16) * 2 - 1

    torch.manual_seed(3)
    out = precision_stage_loss(m, (x,), l1_weight=0.0)
    got_grads = torch.autograd.grad(out["loss"], params)

    torch.manual_seed(3)  # the same z
    mu, logvar = m.encode(x)
    z = m.sample_z(mu, logvar)
    with torch.no_grad():
        mean = m.decode_mean(z)
    p = m.decode_precision(z)
    nll = -supn.log_prob(x, mean, p[:, :1], p[:, 1:])
    want = (nll + m.kl(mu, logvar).detach()).mean() + 0.0 * p[:, 1:].abs().mean()
    want_grads = torch.autograd.grad(want, params)

    assert torch.equal(out["loss"], want.detach())
    assert torch.equal(out["l1"], p[:, 1:].abs().mean().detach()) and out["l1"] > 0
    for g, w in zip(got_grads, want_grads, strict=True):
        assert torch.equal(g, w)
