"""Fault injection: crafted model files (explicit class allow-list) and a full disk while saving a model or checkpoint.

The full disk is real: `torch.save` is redirected to /dev/full, which fails every write with ENOSPC, so torch raises
exactly the error it raises on a full file system (`[enforce fail at inline_container.cc:…] . unexpected pos …`).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

from anoloc import models
from anoloc.models import MODEL_CLASSES, load_model, save_model
from anoloc.models.cell_vae import CellVAE
from anoloc.models.conv_vae import ConvVAE
from anoloc.models.fc_vae import FCVAE
from anoloc.models.vae import elbo_loss
from anoloc.train import TrainConfig, fit
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults

SMALL = {
    "anoloc.models.fc_vae:FCVAE": lambda: FCVAE(in_pixels=16, hidden=8, z=2),
    "anoloc.models.conv_vae:ConvVAE": lambda: ConvVAE(image_size=16, h_sizes=(2, 3, 4, 5), z=3),
    "anoloc.models.cell_vae:CellVAE": lambda: CellVAE(image_size=32, depth=2, hidden_dim=8, latent_dim=4),
}


def _crafted(path: Path, cls: str, hparams: dict) -> Path:
    torch.save({"format": 1, "class": cls, "hparams": hparams, "state_dict": {}, "meta": {}}, path)
    return path


def test_the_registry_lists_exactly_the_models_the_experiments_save():
    assert set(SMALL) == set(MODEL_CLASSES)
    for name, make in SMALL.items():
        assert models.class_path(type(make())) == name
        assert models.model_class(name) is type(make())


@pytest.mark.parametrize("name", MODEL_CLASSES)
def test_registered_class_round_trips(tmp_path, name):
    torch.manual_seed(0)
    model = SMALL[name]()
    save_model(model, tmp_path / "m.pt", {"note": name})
    loaded, meta = load_model(tmp_path / "m.pt")
    assert type(loaded) is type(model) and meta == {"note": name} and not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


@pytest.mark.parametrize(
    "cls",
    [
        "anoloc.data.cells:write_synthetic",  # an anoloc function that deletes and writes a folder
        "anoloc.models.vae:GaussianVAE",  # an anoloc class, but not a registered model class
        "anoloc.models.fc_vae:FCVAE.__init__",
        "torch.nn:Linear",
        "os:system",
    ],
)
def test_crafted_model_file_naming_another_callable_is_refused(tmp_path, cls):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    path = _crafted(tmp_path / "model.pt", cls, {"root": str(victim), "counts": {"healthy_train": 1}})
    with pytest.raises(AnolocError, match="refusing to load model class") as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg and repr(cls) in msg and "delete it and rerun" in msg
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]  # nothing was called


def test_crafted_hparams_or_weights_are_a_clear_error(tmp_path):
    path = _crafted(tmp_path / "model.pt", "anoloc.models.fc_vae:FCVAE", {"no_such_argument": 1})
    with pytest.raises(AnolocError, match=r"do not fit anoloc.models.fc_vae:FCVAE") as err:
        load_model(path)
    assert str(path) in str(err.value)
    path = _crafted(tmp_path / "model2.pt", "anoloc.models.fc_vae:FCVAE", {"in_pixels": 16, "hidden": 8, "z": 2})
    with pytest.raises(AnolocError, match="do not fit"):  # missing weights
        load_model(path)
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 not a torch file")
    with pytest.raises(AnolocError, match=r"junk\.pt is not a readable anoloc model file"):
        load_model(tmp_path / "junk.pt")


def test_saving_an_unregistered_class_is_refused(tmp_path):
    class Local(FCVAE):
        pass

    with pytest.raises(ValueError, match="MODEL_CLASSES"):
        save_model(Local(in_pixels=16, hidden=8, z=2), tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


# -------------------------------------------------------------------------------------------- full disk
def _fill_disk(monkeypatch) -> None:
    """From now on every torch.save writes to /dev/full (ENOSPC on the first flush), as on a full file system."""
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available")
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *args, **kwargs: real_save(obj, "/dev/full"))


def test_full_disk_while_saving_a_model_keeps_the_previous_one(tmp_path, monkeypatch):
    old = FCVAE(in_pixels=16, hidden=8, z=2)
    save_model(old, tmp_path / "model.pt", {"version": "old"})
    before = (tmp_path / "model.pt").read_bytes()
    _fill_disk(monkeypatch)
    with pytest.raises(AnolocError, match="disk is full") as err:
        save_model(FCVAE(in_pixels=16, hidden=8, z=2), tmp_path / "model.pt", {"version": "new"})
    msg = str(err.value)
    assert str(tmp_path / "model.pt") in msg and "Free some space" in msg and "inline_container" in msg
    assert isinstance(err.value.__cause__, RuntimeError)
    monkeypatch.undo()
    assert (tmp_path / "model.pt").read_bytes() == before  # the previous model is intact
    assert load_model(tmp_path / "model.pt")[1] == {"version": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


def test_full_disk_while_writing_a_checkpoint(tmp_path, monkeypatch):
    _fill_disk(monkeypatch)
    torch.manual_seed(0)
    model = FCVAE(in_pixels=16, hidden=8, z=2)
    batches = [(torch.rand(4, 16),)]
    with pytest.raises(AnolocError, match="disk is full") as err:
        fit(model, elbo_loss, batches, TrainConfig(epochs=1, device="cpu"), tmp_path / "run")
    assert str(tmp_path / "run" / "checkpoint.pt") in str(err.value)
    assert list((tmp_path / "run").iterdir()) == []  # no partial checkpoint


def test_enospc_oserror_is_translated_too(tmp_path, monkeypatch):
    def no_space(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    with pytest.raises(AnolocError, match="disk is full") as err:
        save_model(FCVAE(in_pixels=16, hidden=8, z=2), tmp_path / "m.pt")
    assert str(tmp_path / "m.pt") in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_are_not_disguised(tmp_path, monkeypatch):
    def broken(obj, f, *args, **kwargs):
        raise RuntimeError("some unrelated bug")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="unrelated bug"):
        save_model(FCVAE(in_pixels=16, hidden=8, z=2), tmp_path / "m.pt")
