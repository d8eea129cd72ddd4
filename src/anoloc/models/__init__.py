"""Models, and one file format for every trained model of the project.

A model file (`model.pt`) holds the class path, the constructor keyword arguments (`model.hparams`),
the weights and free-form metadata (training history, config), so `load_model` rebuilds it without
knowing which experiment wrote it. It is read with `torch.load(weights_only=True)` (tensors and plain data
only), and the class it names must be one of `MODEL_CLASSES`, an explicit allow-list: a crafted file cannot
make `load_model` import or call anything else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from anoloc.io import save_torch
from anoloc.utils import AnolocError, PathLike

FORMAT_VERSION = 1
# Every class a model file may name ("module:qualname"). Add a new model class here to save and load it.
MODEL_CLASSES = (
    "anoloc.models.fc_vae:FCVAE",
    "anoloc.models.conv_vae:ConvVAE",
    "anoloc.models.cell_vae:CellVAE",
)


def class_path(cls: type) -> str:
    """The "module:qualname" under which a model class is stored in a model file."""
    return f"{cls.__module__}:{cls.__qualname__}"


def model_class(name: str, source: PathLike = "model file") -> type[nn.Module]:
    """The registered model class called `name` ("module:qualname"); anything else is an `AnolocError`."""
    if name not in MODEL_CLASSES:
        raise AnolocError(
            f"{source}: refusing to load model class {name!r}: not one of the project's model classes "
            f"({', '.join(MODEL_CLASSES)}). The file was not written by anoloc (or by a newer version); "
            "delete it and rerun the training step that produces it."
        )
    module_name, qualname = name.split(":")
    return getattr(importlib.import_module(module_name), qualname)


def save_model(model: nn.Module, path: PathLike, meta: dict[str, Any] | None = None) -> None:
    """Write `model` (which must have an `hparams` dict of constructor kwargs) atomically to `path`.

    A full disk is an `AnolocError` naming `path`; a previous file at `path` stays as it was.
    """
    name = class_path(type(model))
    if name not in MODEL_CLASSES:
        raise ValueError(f"{name} is not in anoloc.models.MODEL_CLASSES: register it there to save it")
    payload = {
        "format": FORMAT_VERSION,
        "class": name,
        "hparams": dict(model.hparams),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    save_torch(payload, path)


def load_model(path: PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_model`; returns (model in eval mode, meta)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        name, hparams, state = payload["class"], payload["hparams"], payload["state_dict"]
    except (OSError, RuntimeError, KeyError, ValueError, EOFError, TypeError) as exc:
        raise AnolocError(f"{path} is not a readable anoloc model file ({exc}); delete it and rerun") from exc
    if not isinstance(name, str) or not isinstance(hparams, dict):
        raise AnolocError(f"{path} is not an anoloc model file (bad class or hparams entry); delete it and rerun")
    if payload.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise AnolocError(f"{path} was written by a newer anoloc (format {payload['format']}); update anoloc")
    cls = model_class(name, path)
    try:
        model = cls(**hparams)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, AnolocError) as exc:
        raise AnolocError(
            f"{path}: its hyperparameters or weights do not fit {name} ({exc}); the file is damaged or was "
            "written by another anoloc version: delete it and rerun the training step"
        ) from exc
    model.eval()
    return model, payload.get("meta", {})


def history_frame(model_path: PathLike):
    """The per-epoch training history stored in a model file, as a pandas DataFrame (one row per epoch)."""
    import pandas as pd

    _, meta = load_model(model_path)
    return pd.DataFrame(meta.get("history", []))


@dataclass(frozen=True)
class RunFiles:
    """Where one training run writes: the model file, its per-epoch history (CSV), the folder of its resumable
    checkpoint and (optionally) its TensorBoard folder."""

    model: PathLike
    history: PathLike
    checkpoints: PathLike
    tensorboard: PathLike | None = None


def save_trained(model: nn.Module, history: list[dict[str, Any]], files: RunFiles, meta: dict[str, Any]) -> None:
    """Save a trained model (`meta` + the per-epoch `history` in the model file) and its history as a CSV."""
    import pandas as pd

    from anoloc.io import write_csv

    save_model(model, files.model, {**meta, "history": history})
    write_csv(pd.DataFrame(history), files.history)
