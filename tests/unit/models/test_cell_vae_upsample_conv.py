"""The decoder's fused ×2 nearest upsampling + 3×3 conv equals the plain two-step computation (float64 values
and gradients), and a short two-stage training follows the same loss trajectory either way."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anoloc.models.cell_vae import CellVAE, mean_stage_loss, precision_stage_loss, upsample_conv3x3


@pytest.mark.parametrize(("cin", "cout", "side", "bias"), [(1, 1, 4, True), (6, 5, 7, True), (3, 8, 5, False)])
def test_upsample_conv_matches_upsample_then_conv(cin, cout, side, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias).double()
    x = torch.randn(2, cin, side, side, dtype=torch.float64, requires_grad=True)
    want = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    got = upsample_conv3x3(x, conv)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(want)
    grads_want = torch.autograd.grad(want, [x, *conv.parameters()], g)
    grads_got = torch.autograd.grad(got, [x, *conv.parameters()], g)
    for a, b in zip(grads_got, grads_want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-11)


def _sequential(self, z):
    """The reference decoder: upsample and convolve as separate modules (nn.Sequential)."""
    h = self.dense(z).view(-1, self.c0, self.side, self.side).contiguous(memory_format=torch.channels_last)
    return self.blocks(h)


def _train(reference: bool, steps: int = 4):
    torch.manual_seed(0)
    m = CellVAE(image_size=32, depth=3, hidden_dim=16, latent_dim=4, likelihood="supn")
    if reference:
        for d in (m.mean_decoder, m.var_decoder):
            d.forward = types.MethodType(_sequential, d)
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    losses = []
    for loss_fn, params in ((mean_stage_loss, list(m.parameters())), (precision_stage_loss, None)):
        params = params if params is not None else m.freeze_mean_path()
        opt = torch.optim.Adam(params, lr=1e-2)
        for step in range(steps):
            torch.manual_seed(step)
            opt.zero_grad()
            out = loss_fn(m, (x,))
            out["loss"].backward()
            opt.step()
            losses.append(out["loss"].item())
    return losses


def test_training_trajectory_is_unchanged():
    fast, ref = _train(reference=False), _train(reference=True)
    assert fast == pytest.approx(ref, rel=1e-4)
    assert fast[0] != fast[-1]  # it did train
