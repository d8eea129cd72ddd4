"""Steps of the fluorescent-cell experiment (Vodenicharski et al. 2022; spec supn-cells §2–§6): prepare → stage 1
(encoder + mean decoder) → stage 2 SUPN and stage 2 diag (frozen encoder/mean) → cell scores of the VAE methods and
of the kNN methods → the arrays of fig4.

Config blocks used here (see config/schema/cells.schema.yaml): `data`, `model`, `quirks`, `train_mean`,
`train_precision`, `score`, `figures`; the kNN methods take a kNN section of the `mvtec` config
(`anoloc.knn.pipeline`). Tables and figures are built without torch (`anoloc.experiments.cells.tables`,
`anoloc.plots.cells`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from anoloc.data import cells as cells_data
from anoloc.data.loaders import TensorBatches
from anoloc.io import save_json
from anoloc.knn.pipeline import fit_score_arrays
from anoloc.metrics import auroc
from anoloc.models import RunFiles, load_model, save_trained, supn, supn_diagnostics
from anoloc.models.cell_vae import CellVAE, mean_stage_loss, precision_stage_loss
from anoloc.scores.cells import gaussian_blur, score_cells
from anoloc.train import Callback, TrainConfig, TrainResult, array_digest, fit
from anoloc.utils import AnolocError, PathLike, derive_seed, resolve_device, seed_everything

log = logging.getLogger(__name__)

MODEL_KEYS = ("image_size", "depth", "kernel_size", "hidden_dim", "latent_dim", "connectivity", "fixed_var")


# ------------------------------------------------------------------------------------------ data
def prepared_fingerprint(npz: PathLike) -> str:
    """The content hash the prepared file was made from (identifies the data in checkpoint fingerprints)."""
    with np.load(npz, allow_pickle=False) as z:
        return str(z["info_content_sha256"]) if "info_content_sha256" in z else str(Path(npz).stat().st_mtime)


def to_tensor(images: np.ndarray, transpose: bool = False) -> torch.Tensor:
    """uint8 (N,H,W) → float32 (N,1,H,W), each image min–max scaled to [−1, 1] (eps 1e−6), as the released code."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    lo = x.amin((2, 3), keepdim=True)
    hi = x.amax((2, 3), keepdim=True)
    x = 2 * (x - lo) / (hi - lo + 1e-6) - 1
    return x.transpose(-1, -2).contiguous() if transpose else x


def random_flips(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Per-sample random horizontal and vertical flips (p = 0.5 each), vectorised, from torch's global RNG."""
    x = batch[0]
    h = torch.rand(len(x)) < 0.5
    v = torch.rand(len(x)) < 0.5
    x = torch.where(h.view(-1, 1, 1, 1), x.flip(-1), x)
    x = torch.where(v.view(-1, 1, 1, 1), x.flip(-2), x)
    return (x, *batch[1:])


def train_batches(npz: PathLike, batch_size: int, legacy_transpose: bool = False) -> TensorBatches:
    """All healthy_train images in memory, shuffled, flipped, `drop_last` (as the released code)."""
    x = to_tensor(cells_data.load_prepared(npz)["healthy_train"].images, transpose=legacy_transpose)
    if batch_size > len(x):
        log.warning("batch size %d > %d training images: using batches of %d", batch_size, len(x), len(x))
        batch_size = len(x)
    return TensorBatches([x], batch_size, shuffle=True, drop_last=True, transform=random_flips)


def test_set(npz: PathLike, quirks: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, pd.DataFrame]:
    """(images (N,1,H,W) in [−1, 1], optionally blurred; masks (N,1,H,W) bool; frame split/name/label)."""
    data = cells_data.load_prepared(npz)
    xs, ms, rows = [], [], []
    for split in cells_data.TEST_SPLITS:
        d = data[split]
        xs.append(to_tensor(d.images))
        ms.append(torch.from_numpy(d.masks).unsqueeze(1))
        rows.append(pd.DataFrame({"split": split, "name": d.names, "label": cells_data.LABELS[split]}))
    x = torch.cat(xs)
    if quirks["test_blur"]:
        x = gaussian_blur(x, int(quirks["test_blur_kernel"]), float(quirks["test_blur_sigma"]))
    return x, torch.cat(ms), pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------------------- training
class MeanCollapse(Exception):
    """The decoded means of prior samples are (nearly) identical: the VAE collapsed to a constant mean."""


def mean_collapse_check(
    threshold: float, n_samples: int = 5, every_steps: int = 100, steps_per_epoch: int = 1, seed: int = 0
):
    """Training callback (spec §2.6): after every `every_steps` optimiser steps (checked at epoch ends), decode
    `n_samples` prior samples and raise `MeanCollapse` if their per-pixel variance across the samples, averaged
    over the pixels, is below `threshold`. (Right after initialisation the decoder ignores z, so there is no
    check before the first `every_steps` steps, as in the released detector.)"""

    def check(epoch: int, model: CellVAE, record: dict[str, float]) -> None:
        if (epoch * steps_per_epoch) // every_steps == ((epoch - 1) * steps_per_epoch) // every_steps:
            return
        device = next(model.parameters()).device
        gen = torch.Generator().manual_seed(derive_seed(seed, "collapse", epoch))
        z = torch.randn(n_samples, model.hparams["latent_dim"], generator=gen).to(device)
        with torch.no_grad():
            var = model.decode_mean(z).var(0).mean().item()
        record["prior_mean_var"] = var
        log.info("epoch %d: variance of %d decoded prior means %.3g", epoch, n_samples, var)
        if var < threshold:
            raise MeanCollapse(f"variance of {n_samples} decoded prior means {var:.3g} < {threshold:g}")

    return check


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's weights (identifies the stage-1 model in the stage-2 checkpoint fingerprint)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _model_kwargs(model_cfg: Mapping[str, Any], quirks: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = {k: model_cfg[k] for k in MODEL_KEYS if k in model_cfg}
    kwargs["legacy_reparam"] = bool(quirks["legacy_reparam"])
    kwargs["legacy_logvar_bias_init"] = bool(quirks["legacy_logvar_bias_init"])
    return kwargs


def _train_config(cfg: Mapping[str, Any], seed: int, device: str) -> TrainConfig:
    """Adam settings of a stage; `lr_drop_fraction` f → LR ×0.1 after round(f·epochs) epochs (stepped per epoch)."""
    epochs = int(cfg["epochs"])
    drop = cfg["lr_drop_fraction"]
    if drop:
        return TrainConfig.from_dict(
            dict(cfg), seed=seed, device=device, schedule="multistep", milestones=[round(drop * epochs)]
        )
    return TrainConfig.from_dict(dict(cfg), seed=seed, device=device, schedule="constant")


Trainer = Callable[..., Any]  # `anoloc.train.fit`, or a wrapper with its signature (e.g. the curve's snapshots)


@dataclass
class StageRun:
    """What one stage's training produced: the model, the trainer's return value (`fit`: a `TrainResult`), the
    metadata to save with the model, and its training history."""

    model: CellVAE
    result: Any
    meta: dict[str, Any]

    @property
    def history(self) -> list[dict[str, Any]]:
        r = self.result[0] if isinstance(self.result, tuple) else self.result
        return r.history


def fit_mean_stage(
    npz: PathLike,
    batches: TensorBatches,
    model_cfg: Mapping[str, Any],
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    seed: int,
    run_dir: PathLike,
    device: str = "auto",
    *,
    tensorboard: PathLike | None = None,
    callbacks: Sequence[Callback] = (),
    trainer: Trainer = fit,
    on_restart: Callable[[Path], None] | None = None,
    desc: str = "cells mean",
) -> StageRun:
    """Stage 1 on `batches`: encoder + mean decoder with the fixed-variance NLL + KL; restarts on mean collapse.

    A collapse restarts training from scratch with a new derived seed (logged, stale checkpoint deleted, then
    `on_restart(run_dir)`), at most `train_cfg.max_restarts` times. The attempt in progress is remembered in
    `attempt.json` of `run_dir`, so a rerun after an interruption resumes the right attempt. `trainer` runs the
    optimisation (`fit`'s signature); `callbacks` run after the collapse check.
    """
    run_dir = Path(run_dir)
    attempt_file = run_dir / "attempt.json"
    attempt = json.loads(attempt_file.read_text())["attempt"] if attempt_file.exists() else 0
    max_restarts = int(train_cfg["max_restarts"])
    settings = {**train_cfg, "batch_size": batches.batch_size}
    while True:
        attempt_seed = seed if attempt == 0 else derive_seed(seed, "restart", attempt)
        seed_everything(attempt_seed)  # weight initialisation
        model = CellVAE(**_model_kwargs(model_cfg, quirks), likelihood="fixed")
        check = mean_collapse_check(
            float(train_cfg["collapse_threshold"]),
            int(train_cfg["collapse_samples"]),
            int(train_cfg["collapse_check_steps"]),
            len(batches),
            attempt_seed,
        )
        try:
            result = trainer(
                model,
                mean_stage_loss,
                batches,
                _train_config(train_cfg, attempt_seed, device),
                run_dir,
                tensorboard_dir=tensorboard,
                callbacks=[check, *callbacks],
                fingerprint_extra={
                    "data": array_digest(*batches.tensors),
                    "settings": settings,
                    "quirks": dict(quirks),
                },
                desc=f"{desc} seed {seed}" + (f" (restart {attempt})" if attempt else ""),
            )
            break
        except MeanCollapse as exc:
            (run_dir / "checkpoint.pt").unlink(missing_ok=True)
            if on_restart is not None:
                on_restart(run_dir)
            if attempt >= max_restarts:
                attempt_file.unlink(missing_ok=True)
                raise AnolocError(
                    f"stage 1 (seed {seed}) collapsed to a constant mean {attempt + 1} times ({exc}); "
                    "raise cells.train_mean.max_restarts, lower the learning rate or train longer"
                ) from exc
            attempt += 1
            log.warning(
                "mean collapse in stage 1 (seed %d): %s; restarting from scratch with seed %d (restart %d of %d)",
                seed,
                exc,
                derive_seed(seed, "restart", attempt),
                attempt,
                max_restarts,
            )
            save_json({"attempt": attempt}, attempt_file)
    meta = {
        "stage": "mean",
        "seed": seed,
        "restarts": attempt,
        "train_seed": attempt_seed,
        "train": dict(train_cfg),
        "quirks": dict(quirks),
        "data": prepared_fingerprint(npz),
    }
    return StageRun(model, result, meta)


def train_mean(
    npz: PathLike,
    model_cfg: Mapping[str, Any],
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    seed: int,
    files: RunFiles,
    device: str = "auto",
) -> TrainResult:
    """Stage 1 (`fit_mean_stage`) on all healthy training crops → the model file of `files`."""
    batches = train_batches(npz, int(train_cfg["batch_size"]), bool(quirks["legacy_transpose"]))
    run = fit_mean_stage(
        npz, batches, model_cfg, quirks, train_cfg, seed, files.checkpoints, device, tensorboard=files.tensorboard
    )
    save_trained(run.model, run.history, files, run.meta)
    return run.result


def fit_precision_stage(
    batches: TensorBatches,
    mean_model: PathLike,
    likelihood: str,
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    seed: int,
    run_dir: PathLike,
    device: str = "auto",
    *,
    offdiag_bound: float | None = None,
    tensorboard: PathLike | None = None,
    callbacks: Sequence[Callback] = (),
    trainer: Trainer = fit,
    desc: str = "cells",
) -> StageRun:
    """Stage 2 (`likelihood` supn or diag) on `batches`: the stage-1 encoder and mean decoder of `mean_model` are
    loaded and frozen (requires_grad False, not given to the optimiser); only the new precision decoder is trained.

    `offdiag_bound` ρ̄ (SUPN only; `cells.model.offdiag_bound`, None = the published model): bounded
    off-diagonals Σ|w| < ρ̄·exp(ℓ) (`CellVAE`), a documented deviation that keeps the precision well-conditioned."""
    if likelihood not in ("supn", "diag"):
        raise AnolocError(f"stage 2 likelihood must be supn or diag, got {likelihood!r}")
    base, _ = load_model(mean_model)
    seed_everything(derive_seed(seed, likelihood))  # precision decoder initialisation
    bound = {"offdiag_bound": float(offdiag_bound)} if offdiag_bound is not None and likelihood == "supn" else {}
    model = CellVAE(**{**base.hparams, "likelihood": likelihood, **bound})
    model.load_mean_path(base)
    params = model.freeze_mean_path()
    l1 = float(quirks["l1_reg_weight"]) if likelihood == "supn" else 0.0
    quarter = bool(quirks["legacy_diag_quarter"]) and likelihood == "diag"
    loss_fn = functools.partial(precision_stage_loss, l1_weight=l1, legacy_diag_quarter=quarter)
    result = trainer(
        model,
        loss_fn,
        batches,
        _train_config(train_cfg, derive_seed(seed, likelihood, "train"), device),
        run_dir,
        params=params,
        tensorboard_dir=tensorboard,
        callbacks=callbacks,
        fingerprint_extra={
            "data": array_digest(*batches.tensors),
            "mean model": weights_digest(base),
            "settings": {**train_cfg, "batch_size": batches.batch_size},
            "quirks": dict(quirks),
        },
        desc=f"{desc} {likelihood} seed {seed}",
    )
    meta = {
        "stage": likelihood,
        "seed": seed,
        "l1_reg_weight": l1,
        "legacy_diag_quarter": quarter,
        "train": dict(train_cfg),
        "quirks": dict(quirks),
        "mean_model": str(mean_model),
        "offdiag_bound": bound.get("offdiag_bound"),
    }
    return StageRun(model, result, meta)


def train_precision(
    npz: PathLike,
    mean_model: PathLike,
    likelihood: str,
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    seed: int,
    files: RunFiles,
    device: str = "auto",
    offdiag_bound: float | None = None,
) -> TrainResult:
    """Stage 2 (`fit_precision_stage`) on all healthy training crops → the model file of `files`."""
    batches = train_batches(npz, int(train_cfg["batch_size"]), bool(quirks["legacy_transpose"]))
    run = fit_precision_stage(
        batches, mean_model, likelihood, quirks, train_cfg, seed, files.checkpoints, device,
        offdiag_bound=offdiag_bound, tensorboard=files.tensorboard,
    )  # fmt: skip
    save_trained(run.model, run.history, files, run.meta)
    return run.result


# ---------------------------------------------------------------------------------------- scoring
def score(
    model_path: PathLike,
    npz: PathLike,
    cell_model: str,
    inference: str,
    score_cfg: Mapping[str, Any],
    quirks: Mapping[str, Any],
    seed: int,
    device: str = "auto",
) -> pd.DataFrame:
    """Scores of every test cell: columns split, name, label, score, backbone (empty for the VAEs).

    `cell_model` l2 scores the stage-1 model (fixed variance, map r²/σ²); supn / diag their stage-2 models.
    """
    model, _ = load_model(model_path)
    expected = {"l2": "fixed", "supn": "supn", "diag": "diag"}[cell_model]
    if model.likelihood != expected:
        raise AnolocError(f"{model_path}: a {model.likelihood!r} model, but {cell_model} needs {expected!r}")
    x, masks, frame = test_set(npz, quirks)
    scores = score_cells(
        model,
        x,
        masks,
        inference,
        n_samples=int(score_cfg["n_samples"]),
        steps=int(score_cfg["restoration_steps"]),
        lr=float(score_cfg["restoration_lr"]),
        batch_size=int(score_cfg["batch_size"]),
        seed=derive_seed(seed, "score", cell_model, inference),
        device=resolve_device(device),
    )
    return frame.assign(score=scores, backbone="")


def score_knn(
    npz: PathLike,
    knn: Mapping[str, Any],
    seed: int,
    n_train: int,
    weights: PathLike | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """A kNN method (`knn`: a kNN section, `anoloc.knn.pipeline`) fitted on the first `n_train` healthy training
    crops in name order (the SUPN repository used 100), scoring every test cell: columns as `score`."""
    data = cells_data.load_prepared(npz)
    train = data["healthy_train"]
    order = np.argsort(np.asarray(train.names), kind="stable")[: int(n_train)]
    model, scores = fit_score_arrays(
        knn, np.asarray(train.images)[order], [data[s].images for s in cells_data.TEST_SPLITS], seed, weights, device
    )
    frame = pd.concat(
        [
            pd.DataFrame({"split": s, "name": list(data[s].names), "label": cells_data.LABELS[s], "score": v})
            for s, v in zip(cells_data.TEST_SPLITS, scores, strict=True)
        ],
        ignore_index=True,
    ).assign(backbone=model.extractor.label)
    auc = auroc(frame["label"], frame["score"])
    log.info("cells %s seed %d: AUROC %.3f (%d training crops)", knn["method"], seed, auc, len(order))
    return frame


# ---------------------------------------------------------------------------------------- figures
@torch.no_grad()
def panels(
    npz: PathLike,
    mean_model: PathLike,
    diag_model: PathLike,
    supn_model: PathLike,
    quirks: Mapping[str, Any],
    n_healthy: int = 3,
    n_infected: int = 3,
    seed: int = 0,
    repair_rho: float | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of fig4 for the first `n_healthy` healthy and `n_infected` infected test cells, at z = μ_z:
    input, mean, L2 / diag / SUPN maps and one SUPN sample μ + L⁻ᵀε (all (n,H,W)), plus names and labels.

    The sample is checked (`supn_diagnostics.sample_checked`): `supn_singular` flags a crop whose Lᵀ is
    numerically singular (its sample is NaN, never inf), `supn_repaired` one sampled from the diagonally dominant
    projection with ρ̄ = `repair_rho` instead, `supn_growth` the triangular solve's growth."""
    x, masks, frame = test_set(npz, quirks)
    pick = np.concatenate(
        [np.flatnonzero(frame["label"] == 0)[:n_healthy], np.flatnonzero(frame["label"] == 1)[:n_infected]]
    )
    x, masks, frame = x[pick], masks[pick], frame.iloc[pick]
    models = {k: load_model(p)[0] for k, p in (("l2", mean_model), ("diag", diag_model), ("supn", supn_model))}
    z, _ = models["supn"].encode(x)  # the encoder (and mean decoder) are shared: stage 2 froze them
    out: dict[str, np.ndarray] = {"input": x[:, 0].numpy(), "mask": masks[:, 0].numpy()}
    for name, model in models.items():
        mean, log_diag, off_diag, c = model.whitening(z)
        out[f"{name}_map"] = supn.mahalanobis_map(x, mean, log_diag, off_diag, c)[:, 0].numpy()
        if name == "supn":
            out["mean"] = mean[:, 0].numpy()
            gen = torch.Generator().manual_seed(derive_seed(seed, "fig4"))
            checked = supn_diagnostics.sample_checked(mean, log_diag, off_diag, 1, c, gen, repair_rho=repair_rho)
            out["supn_sample"] = checked.samples[0, :, 0].numpy()
            out["supn_singular"], out["supn_repaired"] = checked.singular, checked.repaired
            out["supn_growth"] = checked.growth
    out["name"] = frame["name"].to_numpy(dtype=str)
    out["split"] = frame["split"].to_numpy(dtype=str)
    out["label"] = frame["label"].to_numpy()
    return out


# ------------------------------------------------------------------------------------------ diagnostics
def diagnose(
    npz: PathLike,
    models: Mapping[str, PathLike],
    quirks: Mapping[str, Any],
    sigma_min_cells: int = 4,
    batch_size: int = 32,
) -> pd.DataFrame:
    """Conditioning of each model's precision Λ = L Lᵀ on every test cell at z = μ_z (`models`: name → model
    file, e.g. supn / diag): one row per (model, cell) with split, name, label and the columns of
    `supn_diagnostics.conditioning_frame`; σ_min(Lᵀ) (Lanczos, the costly column) only for the first
    `sigma_min_cells` cells of each class, NaN elsewhere."""
    x, _, frame = test_set(npz, quirks)
    labels = frame["label"].to_numpy()
    pick = np.concatenate([np.flatnonzero(labels == k)[:sigma_min_cells] for k in (0, 1)])
    out = []
    for name, path in models.items():
        model, _ = load_model(path)
        cond = supn_diagnostics.model_conditioning(model, x, batch_size, singular_values=False)
        if len(pick):
            sub = supn_diagnostics.model_conditioning(model, x[pick], batch_size, singular_values=True)
            cond.loc[pick, ["sigma_min", "sigma_min_rel"]] = sub[["sigma_min", "sigma_min_rel"]].to_numpy()
        singular = int(cond["singular"].sum())
        log.info("%s: %d of %d test cells numerically singular (solve growth > %.0e)", name, singular, len(cond),
                 supn_diagnostics.MAX_GROWTH)  # fmt: skip
        out.append(pd.concat([frame.reset_index(drop=True).assign(model=name), cond], axis=1))
    return pd.concat(out, ignore_index=True)
