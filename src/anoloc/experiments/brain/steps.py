"""Steps of the pixel-wise brain MRI experiment (vae-kl-grad spec §3–§5): HCP (healthy) → BraTS (tumours).

Train the conv VAE on HCP → score every BraTS slice and the held-out HCP validation slices. The data preparation
(synthetic cohort, preprocessing) is torch-free in `anoloc.data.brain.prepare`; the tables are built from the saved
scores by `anoloc.experiments.brain.tables`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from anoloc.data.brain.augment import BrainAugment
from anoloc.data.brain.preprocess import load_slices
from anoloc.data.loaders import TensorBatches
from anoloc.experiments.brain.layout import BrainRun, run_id
from anoloc.io import save_npz
from anoloc.models import RunFiles, load_model, save_trained
from anoloc.models.conv_vae import ConvVAE
from anoloc.models.vae import elbo_loss
from anoloc.scores.names import PIXEL_SCORES, SLICE_SCORES
from anoloc.scores.vae import global_combi, pixel_scores
from anoloc.train import TrainConfig, TrainResult, array_digest, fit
from anoloc.utils import PathLike, resolve_device, seed_everything

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- training
def train(
    train_files: Sequence[PathLike],
    val_files: Sequence[PathLike],
    run: BrainRun,
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    clip: float,
    files: RunFiles,
    device: str = "auto",
) -> TrainResult:
    """Train the conv VAE on the HCP training slices (validation: the held-out HCP subjects) into `files`."""
    tr, va = load_slices(train_files), load_slices(val_files)
    meta = {
        "train_subjects": tr.subjects,
        "val_subjects": va.subjects,
        "n_train_slices": len(tr),
        "n_val_slices": len(va),
    }
    result = train_conv_vae(tr.image, va.image, run, model_cfg, train_cfg, clip, files, device, meta=meta)
    log.info("trained %d epochs on %d slices (%d subjects)", result.epochs_run, len(tr), len(tr.subjects))
    return result


def train_conv_vae(
    x_train: np.ndarray,
    x_val: np.ndarray,
    run: BrainRun,
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    clip: float,
    files: RunFiles,
    device: str = "auto",
    meta: Mapping[str, Any] | None = None,
    desc: str | None = None,
) -> TrainResult:
    """Train the brain's conv VAE on images (N, S, S) (intensities as the brain preprocessing: z-scored, clipped to
    ±`clip`; validation images `x_val`) into `files`. Also used by the matrix on other datasets."""
    x_tr = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).unsqueeze(1)
    x_va = torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)).unsqueeze(1)
    aug_cfg = dict(train_cfg["augment"])
    transform = BrainAugment.from_dict(aug_cfg, clip=clip) if aug_cfg["enabled"] else None
    bs = int(train_cfg["batch_size"])
    train_batches = TensorBatches([x_tr], bs, shuffle=True, transform=transform)
    val_batches = TensorBatches([x_va], bs)
    seed = run.seed
    seed_everything(seed)  # weight initialisation
    model = ConvVAE(
        image_size=int(x_tr.shape[-1]),
        h_sizes=[max(1, round(h * run.width)) for h in model_cfg["h_sizes"]],
        z=run.z,
        log_c=run.log_c,
        legacy_sigma=bool(model_cfg["legacy_sigma"]),
    )
    cfg = TrainConfig.from_dict(dict(train_cfg), seed=seed, device=device)
    result = fit(
        model,
        elbo_loss,
        train_batches,
        cfg,
        files.checkpoints,
        val_batches=val_batches,
        tensorboard_dir=files.tensorboard,
        fingerprint_extra={"data": array_digest(x_tr, x_va), "settings": dict(train_cfg), "clip": clip},
        desc=desc or f"brain {run_id(run)} seed {seed}",
    )
    meta = {
        "run": asdict(run),
        "train": dict(train_cfg),
        **dict(meta or {}),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
    }
    save_trained(model, result.history, files, meta)
    return result


# -------------------------------------------------------------------------------------------- scoring
def score_slices(
    model: Any,
    images: np.ndarray,
    batch_size: int = 64,
    combi_norm: str = "batch",
    kl_range: tuple[float, float] | None = None,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Pixel maps (`PIXEL_SCORES`, (N, H, W)), the reconstruction, slice-level `slice_kl/rec/elbo` and the
    range `kl_grad_range` of the raw |∂KL/∂x| of the slices `images` (N, H, W), in batches of `batch_size`.

    `combi_norm="global"`: the combi map is normalised by `kl_range` if given, else by the range over all
    `images` (post hoc, `anoloc.scores.vae.global_combi`).
    """
    dev = resolve_device(device)
    model.eval().to(dev)
    n, h, w = images.shape
    out = {k: np.empty((n, h, w), np.float32) for k in (*PIXEL_SCORES, "reconstruction")}
    for k in SLICE_SCORES:
        out[f"slice_{k}"] = np.empty(n, np.float64)
    lo, hi = np.inf, -np.inf
    post_hoc = combi_norm == "global" and kl_range is None
    for start in range(0, n, batch_size):
        sl = slice(start, min(start + batch_size, n))
        x = torch.from_numpy(np.ascontiguousarray(images[sl])).unsqueeze(1).to(dev)
        maps = pixel_scores(
            model, x, combi_norm="batch" if post_hoc else combi_norm, kl_range=kl_range, return_raw=True
        )
        raw = maps.pop("kl_grad_raw")
        lo, hi = min(lo, float(raw.min())), max(hi, float(raw.max()))
        for k, v in maps.items():
            out[k][sl] = v[:, 0].cpu().numpy()
        with torch.no_grad():
            t = model.terms(x, sample=False)
        out["reconstruction"][sl] = t["mean"][:, 0].cpu().numpy()
        for k in SLICE_SCORES:
            out[f"slice_{k}"][sl] = t[k].double().cpu().numpy()
    if post_hoc:
        for start in range(0, n, batch_size):
            sl = slice(start, min(start + batch_size, n))
            kg, rec = (torch.from_numpy(out[k][sl]).unsqueeze(1) for k in ("kl_grad", "rec"))
            out["combi"][sl] = global_combi(kg, rec, lo, hi)[:, 0].numpy()
    out["kl_grad_range"] = np.array([lo, hi])
    return out


def score(
    model_path: PathLike,
    brats_files: Sequence[PathLike],
    hcp_val_files: Sequence[PathLike],
    score_cfg: Mapping[str, Any],
    brats_out: PathLike,
    hcp_val_out: PathLike,
    device: str = "auto",
) -> None:
    """Score every BraTS slice (full maps → `brats_out`) and the held-out HCP validation slices (per-score
    brain-pixel values and slice scores → `hcp_val_out`, for the healthy-percentile threshold)."""
    model, _ = load_model(model_path)
    bs, norm = int(score_cfg["batch_size"]), str(score_cfg["combi_norm"])
    brats = load_slices(brats_files)
    s = score_slices(model, brats.image, bs, norm, device=device)
    meta = {"combi_norm": np.array(norm), "batch_size": np.array(bs)}
    _save_scores(
        brats_out,
        image=brats.image,
        label=brats.label,
        brain_mask=brats.brain_mask,
        subject=brats.subject,
        slice_index=brats.slice_index,
        tumour_voxels=brats.tumour_voxels,
        **s,
        **meta,
    )
    hv = load_slices(hcp_val_files)
    kl_range = tuple(s["kl_grad_range"]) if norm == "global" else None  # the test set's range
    sh = score_slices(model, hv.image, bs, norm, kl_range=kl_range, device=device)
    mask = hv.brain_mask
    _save_scores(
        hcp_val_out,
        subject=hv.subject,
        **{f"{k}_brain": sh[k][mask] for k in PIXEL_SCORES},
        **{f"slice_{k}": sh[f"slice_{k}"] for k in SLICE_SCORES},
        **meta,
    )
    log.info("scored %d BraTS and %d HCP validation slices", len(brats), len(hv))


def _save_scores(path: PathLike, **arrays: Any) -> None:
    save_npz(path, arrays, compress=False)  # large maps read back by the table job soon: speed over size
