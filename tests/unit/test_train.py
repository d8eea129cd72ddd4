"""The shared training loop: exact resume, early stopping, schedules, frozen parameters."""

from __future__ import annotations

import pytest
import torch

from anoloc.data.loaders import TensorBatches
from anoloc.models.fc_vae import FCVAE
from anoloc.models.vae import elbo_loss
from anoloc.train import StopTraining, TrainConfig, array_digest, fit
from anoloc.utils import AnolocError


def _setup(init_seed=0):
    x = torch.rand(256, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(init_seed)
    model = FCVAE(in_pixels=16, hidden=8, z=3)
    return model, TensorBatches([x], 32, shuffle=True), TensorBatches([x[:64]], 32)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("checkpoint_every", [1, 2])
def test_restart_after_kill_matches_uninterrupted_run(tmp_path, checkpoint_every):
    cfg = TrainConfig(epochs=4, seed=3, checkpoint_every=checkpoint_every)
    ref, batches, _ = _setup()
    fit(ref, elbo_loss, batches, cfg, tmp_path / "ref")

    def kill_during_epoch_2(epoch, model, record):
        if epoch == 2:
            raise RuntimeError("simulated kill")

    run, batches, _ = _setup()
    with pytest.raises(RuntimeError, match="simulated kill"):
        fit(run, elbo_loss, batches, cfg, tmp_path / "run", callbacks=[kill_during_epoch_2])
    restarted, batches, _ = _setup()  # a new process: the script seeds the init the same way
    with torch.no_grad():  # and whatever the init, a loaded checkpoint overrides it
        for p in restarted.parameters():
            p.add_(1.0 if checkpoint_every == 1 else 0.0)
    res = fit(restarted, elbo_loss, batches, cfg, tmp_path / "run")
    assert res.resumed_from == (1 if checkpoint_every == 1 else None)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    for k, v in _weights(ref).items():
        assert torch.equal(restarted.state_dict()[k], v), k


def test_finished_run_is_not_trained_again(tmp_path):
    cfg = TrainConfig(epochs=2, seed=1)
    model, batches, _ = _setup()
    fit(model, elbo_loss, batches, cfg, tmp_path)
    again, batches, _ = _setup(init_seed=5)
    res = fit(again, elbo_loss, batches, cfg, tmp_path)
    assert res.resumed_from == 2 and res.epochs_run == 2
    for k, v in _weights(model).items():
        assert torch.equal(again.state_dict()[k], v)


def test_checkpoint_of_another_config_is_ignored(tmp_path, caplog):
    model, batches, _ = _setup()
    fit(model, elbo_loss, batches, TrainConfig(epochs=1, seed=1), tmp_path)
    res = fit(model, elbo_loss, batches, TrainConfig(epochs=1, seed=1, lr=5e-4), tmp_path)
    assert res.resumed_from is None
    assert "its train config changed" in caplog.text


@pytest.mark.parametrize(
    ("extra", "changed"),
    [
        ({"data": array_digest(torch.ones(3)), "settings": {"batch_size": 32}}, "data"),
        ({"data": array_digest(torch.zeros(3)), "settings": {"batch_size": 64}}, "settings"),
        ({"data": array_digest(torch.zeros(3)), "settings": {"batch_size": 32}, "held_out": 1}, "held_out"),
    ],
)
def test_checkpoint_of_other_data_or_settings_is_discarded_naming_what_changed(tmp_path, caplog, extra, changed):
    first = {"data": array_digest(torch.zeros(3)), "settings": {"batch_size": 32}}
    model, batches, _ = _setup()
    fit(model, elbo_loss, batches, TrainConfig(epochs=1, seed=1), tmp_path, fingerprint_extra=first)
    again = fit(model, elbo_loss, batches, TrainConfig(epochs=1, seed=1), tmp_path, fingerprint_extra=first)
    assert again.resumed_from == 1  # the same run resumes (here: is already finished)
    res = fit(model, elbo_loss, batches, TrainConfig(epochs=1, seed=1), tmp_path, fingerprint_extra=extra)
    assert res.resumed_from is None
    assert f"its {changed} changed since it was written" in caplog.text


def test_array_digest_is_content_not_identity():
    import numpy as np

    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert array_digest(a) == array_digest(a.copy()) == array_digest(torch.from_numpy(a.copy()))
    assert array_digest(a) != array_digest(a.reshape(4, 3))  # same bytes, other shape
    assert array_digest(a) != array_digest(a.astype(np.int16))
    b = a.copy()
    b[2, 3] += 1
    assert array_digest(a) != array_digest(b)
    assert array_digest(a[:, ::2]) == array_digest(np.ascontiguousarray(a[:, ::2]))  # strided views


def test_early_stopping_restores_best_weights(tmp_path):
    val = [3.0, 2.0, 2.5, 2.6, 2.7, 1.0, 0.5]  # best at epoch 2, patience 3 → stop after epoch 5
    model, batches, _ = _setup()
    epoch_counter = {"e": 0}

    def loss_fn(m, batch):
        if m.training:
            return elbo_loss(m, batch)
        return {"loss": torch.tensor(val[epoch_counter["e"]])}

    snapshots = {}

    def remember(epoch, m, record):
        snapshots[epoch] = _weights(m)
        epoch_counter["e"] = epoch

    cfg = TrainConfig(epochs=7, seed=0, early_stopping_patience=3)
    res = fit(model, loss_fn, batches, cfg, tmp_path, val_batches=TensorBatches([torch.zeros(4, 1, 4, 4)], 4),
              callbacks=[remember])  # fmt: skip
    assert res.stopped_early and res.epochs_run == 5 and res.best_epoch == 2
    assert [h["val_loss"] for h in res.history] == pytest.approx(val[:5])
    for k, v in snapshots[2].items():
        assert torch.equal(model.state_dict()[k], v)


def test_plateau_and_multistep_schedules(tmp_path):
    model, batches, _ = _setup()

    def flat_val(m, batch):
        return elbo_loss(m, batch) if m.training else {"loss": torch.tensor(1.0)}

    res = fit(model, flat_val, batches, TrainConfig(epochs=4, schedule="plateau", lr=1e-3, lr_patience=1),
              tmp_path / "p", val_batches=TensorBatches([torch.zeros(2, 1, 4, 4)], 2))  # fmt: skip
    # val never improves after epoch 1: the LR drops ×0.1 after two bad epochs (patience 1)
    assert [h["lr"] for h in res.history] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4])
    model, batches, _ = _setup()
    res = fit(model, elbo_loss, batches, TrainConfig(epochs=4, schedule="multistep", milestones=[2]), tmp_path / "m")
    assert [h["lr"] for h in res.history] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])


def test_only_given_parameters_change(tmp_path):
    model, batches, _ = _setup()
    for p in model.enc.parameters():
        p.requires_grad_(False)
    frozen = {k: v for k, v in _weights(model).items() if k.startswith("enc.")}
    fit(model, elbo_loss, batches, TrainConfig(epochs=2), tmp_path, params=model.dec.parameters())
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert not torch.equal(after["dec.0.weight"], _setup()[0].state_dict()["dec.0.weight"])


def test_callback_can_stop_training(tmp_path):
    model, batches, _ = _setup()

    def stop_at_2(epoch, m, record):
        if epoch == 2:
            raise StopTraining("enough")

    res = fit(model, elbo_loss, batches, TrainConfig(epochs=10), tmp_path, callbacks=[stop_at_2])
    assert res.epochs_run == 2 and res.stopped_early


def test_divergence_is_reported(tmp_path):
    model, batches, _ = _setup()

    def nan_loss(m, batch):
        return {"loss": elbo_loss(m, batch)["loss"] * float("nan")}

    with pytest.raises(AnolocError, match="diverged"):
        fit(model, nan_loss, batches, TrainConfig(epochs=1), tmp_path)
