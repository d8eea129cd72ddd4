"""Steps of the sample-wise (Fashion)MNIST experiment (vae-kl-grad spec §2): prepare → train → score.

Each run is one (dataset, held-out class, z, log c, scaling, seed) (`anoloc.experiments.mnist.layout`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch

from anoloc.data import mnist as mnist_data
from anoloc.data.loaders import TensorBatches
from anoloc.experiments.mnist.layout import RunParams, run_id
from anoloc.models import RunFiles, load_model, save_trained
from anoloc.models.fc_vae import FCVAE
from anoloc.models.vae import elbo_loss
from anoloc.scores.names import SAMPLE_SCORES
from anoloc.scores.vae import sample_scores
from anoloc.train import TrainConfig, TrainResult, array_digest, fit
from anoloc.utils import PathLike, seed_everything

log = logging.getLogger(__name__)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [0, 1] (as torchvision's ToTensor)."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


def train(
    npz: PathLike,
    held_out: int,
    run: RunParams,
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    files: RunFiles,
    device: str = "auto",
) -> TrainResult:
    """Train the FC VAE on the 9 seen classes into `files` (model, history, checkpoints, TensorBoard)."""
    data = mnist_data.load_prepared(npz)
    split = mnist_data.held_out_split(
        data.y_train, data.y_test, held_out, float(train_cfg["val_fraction"]), seed=run.seed
    )
    bs = int(train_cfg["batch_size"])
    x_train, x_val = data.x_train[split.train_idx], data.x_train[split.val_idx]
    del data
    train_batches = TensorBatches([to_tensor(x_train)], bs, shuffle=True)
    val_batches = TensorBatches([to_tensor(x_val)], bs) if len(x_val) else None
    seed_everything(run.seed)  # weight initialisation
    model = FCVAE(
        hidden=int(model_cfg["hidden"]),
        z=run.z,
        scaling=run.scaling,
        log_c=run.log_c,
        legacy_sigma=bool(model_cfg["legacy_sigma"]),
    )
    cfg = TrainConfig.from_dict(dict(train_cfg), seed=run.seed, device=device)
    result = fit(
        model,
        elbo_loss,
        train_batches,
        cfg,
        files.checkpoints,
        val_batches=val_batches,
        tensorboard_dir=files.tensorboard,
        fingerprint_extra={"data": array_digest(x_train, x_val), "settings": dict(train_cfg), "held_out": held_out},
        desc=f"mnist class {held_out} {run_id(run)} seed {run.seed}",
    )
    meta = {
        "held_out": held_out,
        "run": asdict(run),
        "train": dict(train_cfg),
        "n_train": len(split.train_idx),
        "n_val": len(split.val_idx),
    }
    save_trained(model, result.history, files, meta)
    return result


def score(
    model_path: PathLike, npz: PathLike, held_out: int, n_samples: int = 0, batch_size: int = 2048, device: str = "auto"
) -> pd.DataFrame:
    """Per-test-image scores: columns `index`, `class`, `label` (1 = held-out class), `kl`, `rec`, `elbo`."""
    model, _ = load_model(model_path)
    data = mnist_data.load_prepared(npz)
    seed_everything(0)  # only matters for n_samples > 0
    scores = sample_scores(model, to_tensor(data.x_test), n_samples=n_samples, batch_size=batch_size, device=device)
    df = pd.DataFrame(
        {"index": np.arange(len(data.y_test)), "class": data.y_test, "label": (data.y_test == held_out).astype(int)}
    )
    for k in SAMPLE_SCORES:
        df[k] = scores[k]
    return df
