"""Models, and one file format for every trained model of the project.

A model file (`model.pt`) holds the class path, the constructor keyword arguments (`model.hparams`),
the weights and free-form metadata (training history, config), so `load_model` rebuilds it without
knowing which experiment wrote it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from anoloc.utils import AnolocError, PathLike, atomic_path

FORMAT_VERSION = 1


def save_model(model: nn.Module, path: PathLike, meta: dict[str, Any] | None = None) -> None:
    """Write `model` (which must have an `hparams` dict of constructor kwargs) atomically to `path`."""
    cls = type(model)
    if not cls.__module__.startswith("anoloc."):
        raise ValueError(f"only anoloc models can be saved, got {cls.__module__}.{cls.__qualname__}")
    payload = {
        "format": FORMAT_VERSION,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "hparams": dict(model.hparams),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_model`; returns (model in eval mode, meta)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        module_name, qualname = payload["class"].split(":")
    except (OSError, RuntimeError, KeyError, ValueError, EOFError) as exc:
        raise AnolocError(f"{path} is not a readable anoloc model file ({exc}); delete it and rerun") from exc
    if not module_name.startswith("anoloc."):
        raise AnolocError(f"{path}: refusing to load model class from {module_name!r}")
    cls = getattr(importlib.import_module(module_name), qualname)
    model = cls(**payload["hparams"])
    model.load_state_dict(payload["state_dict"])
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
