"""`TrainConfig.compile`: the compiled training steps give the uncompiled run's results (up to float rounding)
and the flag does not change a run's identity (checkpoints resume across it)."""

from __future__ import annotations

import functools

import pytest
import torch

from anoloc.data.loaders import TensorBatches
from anoloc.models.cell_vae import CellVAE, precision_stage_loss
from anoloc.train import TrainConfig, fit

TINY = {"image_size": 16, "depth": 2, "hidden_dim": 8, "latent_dim": 3, "likelihood": "supn"}


def _stage2(tmp, compile_, epochs=2):
    torch.manual_seed(0)
    model = CellVAE(**TINY)
    params = model.freeze_mean_path()
    x = torch.rand(24, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    batches = TensorBatches([x], 8, shuffle=True, drop_last=True)
    cfg = TrainConfig(epochs=epochs, seed=5, device="cpu", compile=compile_)
    res = fit(model, functools.partial(precision_stage_loss, l1_weight=1.0), batches, cfg, tmp, params=params)
    return model, res


def test_compile_flag_is_not_part_of_the_run_identity(tmp_path):
    _, first = _stage2(tmp_path, compile_=False, epochs=1)
    _, again = _stage2(tmp_path, compile_=True, epochs=1)  # finished: returns before compiling anything
    assert again.resumed_from == 1 and again.history == first.history


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path):
    eager, res_e = _stage2(tmp_path / "eager", compile_=False)
    compiled, res_c = _stage2(tmp_path / "compiled", compile_=True)
    for he, hc in zip(res_e.history, res_c.history, strict=True):
        for key in ("train_loss", "train_nll", "train_l1"):
            assert hc[key] == pytest.approx(he[key], rel=1e-5), key
    for (name, pe), pc in zip(eager.state_dict().items(), compiled.state_dict().values(), strict=True):
        torch.testing.assert_close(pc, pe, rtol=1e-4, atol=1e-6, msg=name)
