"""Steps of the cells learning curve (`cells.curve`; torch): long training runs with snapshots, snapshot scores.

Stage 1 (encoder + mean decoder, as `steps.train_mean`: fixed-variance NLL + KL, restarts on mean collapse) trains
ONE run of max(steps) optimiser steps; stage 2 (`steps.train_precision`: SUPN or diag decoder on the frozen stage-1
model) trains ONE run each from the final stage-1 snapshot. Each run keeps a snapshot at every requested step count
k, taken at the end of epoch ceil(k / steps_per_epoch) (`curve_layout.milestone_epochs`); the optimiser settings
are the stage's own (`train_mean` / `train_precision`; `lr_drop_fraction` applies to the curve's epochs).

Freshness: snapshots are written by a `fit` callback as model files (`anoloc.models.save_model`, atomic) into
`<checkpoints>/snapshots/step<k>.pt`, each tagged with the run's checkpoint fingerprint
(`anoloc.train.fingerprint_parts`: optimiser settings, model, data, stage-1 weights, settings, quirks, and the
requested steps). At the start of a run every snapshot with another fingerprint is deleted, exactly when `fit`
discards the stale checkpoint; an interrupted run resumes from its checkpoint and keeps the snapshots already
written (fit reseeds every epoch from (seed, epoch), so the resumed run equals an uninterrupted one). At the end the
snapshots are copied to the run's outputs with their metadata and the history up to their epoch.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from anoloc.data.loaders import TensorBatches
from anoloc.experiments.cells import steps as cell_steps
from anoloc.experiments.cells.curve_layout import milestone_epochs
from anoloc.io import write_csv
from anoloc.models import load_model, save_model
from anoloc.train import Callback, LossFn, TrainConfig, TrainResult, fingerprint_parts, fit
from anoloc.utils import AnolocError, PathLike

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "snapshots"


# ------------------------------------------------------------------------------------------ snapshots
def _read_meta(path: Path) -> dict[str, Any] | None:
    """The `meta` of a model file, or None when it cannot be read."""
    try:
        meta = torch.load(path, map_location="cpu", weights_only=True)["meta"]
    except Exception:  # any unreadable file is stale
        return None
    return meta if isinstance(meta, dict) else None


class Snapshots:
    """The snapshots of one training run: `<directory>/step<k>.pt` for each requested step count k, written by
    calling the object as a `fit` callback at the end of epoch ceil(k / steps_per_epoch), each a model file whose
    meta holds `fingerprint` (the run's checkpoint fingerprint), `step_requested` (k), `step` (epoch ·
    steps_per_epoch, the steps actually done), `epoch` and `steps_per_epoch`."""

    def __init__(
        self, directory: PathLike, step_counts: Sequence[int], steps_per_epoch: int, fingerprint: Mapping[str, str]
    ) -> None:
        self.directory = Path(directory)
        self.steps = [int(k) for k in step_counts]
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = milestone_epochs(self.steps, self.steps_per_epoch)
        self.fingerprint = dict(fingerprint)

    def path(self, step: int) -> Path:
        return self.directory / f"step{step}.pt"

    def valid(self, path: Path) -> bool:
        """Whether a snapshot file was written by this run (same fingerprint) for one of its step counts."""
        meta = _read_meta(path)
        return (
            meta is not None
            and meta.get("fingerprint") == self.fingerprint
            and meta.get("step_requested") in self.steps
        )

    def discard_stale(self) -> list[Path]:
        """Delete every snapshot in the folder that another run (data, model, settings, steps) wrote."""
        stale = [p for p in sorted(self.directory.glob("step*.pt")) if not self.valid(p)]
        for p in stale:
            p.unlink()
        if stale:
            log.warning(
                "deleted %d stale snapshot(s) in %s (written for other data or settings)", len(stale), self.directory
            )
        return stale

    def missing(self) -> list[int]:
        """Requested step counts without a valid snapshot."""
        return [k for k in self.steps if not (self.path(k).exists() and self.valid(self.path(k)))]

    def __call__(self, epoch: int, model: nn.Module, record: dict[str, float]) -> None:
        for k, e in zip(self.steps, self.epochs, strict=True):
            if e == epoch:
                meta = {
                    "fingerprint": self.fingerprint,
                    "step_requested": k,
                    "step": e * self.steps_per_epoch,
                    "epoch": e,
                    "steps_per_epoch": self.steps_per_epoch,
                }
                save_model(model, self.path(k), meta)
                log.info("snapshot at step %d (requested %d, epoch %d): %s", meta["step"], k, e, self.path(k))


def _checkpoint_epoch(ckpt_path: Path, fingerprint: Mapping[str, str]) -> int | None:
    """The epoch of a checkpoint `fit` would resume from (same fingerprint), else None."""
    if not ckpt_path.exists():
        return None
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception:  # fit ignores an unreadable checkpoint too
        return None
    return int(ckpt["state"]["epoch"]) if ckpt.get("fingerprint") == dict(fingerprint) else None


def fit_with_snapshots(
    model: nn.Module,
    loss_fn: LossFn,
    batches: TensorBatches,
    cfg: TrainConfig,
    run_dir: PathLike,
    step_counts: Sequence[int],
    *,
    fingerprint_extra: Mapping[str, Any],
    params: Sequence[nn.Parameter] | None = None,
    tensorboard_dir: PathLike | None = None,
    callbacks: Sequence[Callback] = (),
    desc: str = "train",
) -> tuple[TrainResult, Snapshots]:
    """`anoloc.train.fit` for `cfg.epochs` epochs with a snapshot at each of `step_counts` (see `Snapshots`).

    The requested steps join `fingerprint_extra`, so changing them retrains. Stale snapshots are deleted first; a
    valid checkpoint past a missing snapshot (e.g. deleted by hand) is discarded, so training replays it.
    `callbacks` run before the snapshot of an epoch is written.
    """
    run_dir = Path(run_dir)
    extra = {**fingerprint_extra, "curve steps": [int(k) for k in step_counts]}
    snaps = Snapshots(run_dir / SNAPSHOT_DIR, step_counts, len(batches), fingerprint_parts(cfg, model, extra))
    if snaps.epochs[-1] > cfg.epochs:
        raise AnolocError(f"{desc}: {cfg.epochs} epochs cannot reach step {snaps.steps[-1]} ({len(batches)} per epoch)")
    snaps.discard_stale()
    done = _checkpoint_epoch(run_dir / "checkpoint.pt", snaps.fingerprint)
    missing = snaps.missing()
    gaps = [k for k, e in zip(snaps.steps, snaps.epochs, strict=True) if k in missing and done and e <= done]
    if gaps:
        log.warning("%s: snapshots of steps %s are missing behind the checkpoint: training from scratch", desc, gaps)
        (run_dir / "checkpoint.pt").unlink()
    result = fit(
        model,
        loss_fn,
        batches,
        cfg,
        run_dir,
        params=params,
        tensorboard_dir=tensorboard_dir,
        callbacks=[*callbacks, snaps],
        fingerprint_extra=extra,
        desc=desc,
    )
    if snaps.missing():
        raise AnolocError(f"{desc}: no snapshot of steps {snaps.missing()} in {snaps.directory} after training")
    return result, snaps


def export_snapshots(
    snaps: Snapshots,
    history: list[dict[str, Any]],
    outputs: Sequence[PathLike],
    history_path: PathLike,
    meta: Mapping[str, Any],
) -> None:
    """Copy each snapshot to its output (in step order) as a model file with `meta`, the snapshot's own metadata
    and the history up to its epoch; write the run's whole history as CSV."""
    if len(outputs) != len(snaps.steps):
        raise AnolocError(f"{len(outputs)} snapshot outputs for {len(snaps.steps)} requested steps")
    for k, out in zip(snaps.steps, outputs, strict=True):
        model, own = load_model(snaps.path(k))
        save_model(model, out, {**meta, **own, "history": history[: own["epoch"]]})
    write_csv(pd.DataFrame(history), history_path)


# ------------------------------------------------------------------------------------------ training
def _stage_batches(
    npz: PathLike, train_cfg: Mapping[str, Any], curve_cfg: Mapping[str, Any], quirks: Mapping[str, Any]
) -> TensorBatches:
    """The stage's training batches; `curve.batch_size` null = the stage's own batch size."""
    size = curve_cfg["batch_size"] if curve_cfg["batch_size"] is not None else train_cfg["batch_size"]
    return cell_steps.train_batches(npz, int(size), bool(quirks["legacy_transpose"]))


def _stage_settings(
    train_cfg: Mapping[str, Any], curve_cfg: Mapping[str, Any], batches: TensorBatches
) -> dict[str, Any]:
    """The stage's settings for the curve: its own, with the batch size used and epochs = the last milestone."""
    epochs = milestone_epochs([max(curve_cfg["steps"])], len(batches))[0]
    return {**train_cfg, "batch_size": batches.batch_size, "epochs": epochs}


def _snapshot_trainer(curve_cfg: Mapping[str, Any]) -> Any:
    """`fit_with_snapshots` at the curve's step counts, with `fit`'s signature (a `steps.Trainer`)."""
    return functools.partial(fit_with_snapshots, step_counts=curve_cfg["steps"])


def train_mean_curve(
    npz: PathLike,
    model_cfg: Mapping[str, Any],
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    curve_cfg: Mapping[str, Any],
    seed: int,
    outputs: Sequence[PathLike],
    history: PathLike,
    checkpoints: PathLike,
    tensorboard: PathLike | None = None,
    device: str = "auto",
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Stage 1 of the curve: `steps.fit_mean_stage` for max(steps) steps with snapshots → `outputs` (one per step,
    in order). A mean collapse restarts from scratch with a derived seed and deletes the attempt's snapshots.
    `callbacks` are extra `fit` callbacks (run after the collapse check, before the snapshot)."""
    batches = _stage_batches(npz, train_cfg, curve_cfg, quirks)
    run = cell_steps.fit_mean_stage(
        npz, batches, model_cfg, quirks, _stage_settings(train_cfg, curve_cfg, batches), seed, checkpoints, device,
        tensorboard=tensorboard, callbacks=callbacks, trainer=_snapshot_trainer(curve_cfg),
        on_restart=lambda run_dir: shutil.rmtree(Path(run_dir) / SNAPSHOT_DIR, ignore_errors=True),
        desc="cells curve mean",
    )  # fmt: skip
    result, snaps = run.result
    export_snapshots(snaps, result.history, outputs, history, run.meta)
    return result


def train_precision_curve(
    npz: PathLike,
    mean_model: PathLike,
    likelihood: str,
    quirks: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    curve_cfg: Mapping[str, Any],
    seed: int,
    outputs: Sequence[PathLike],
    history: PathLike,
    checkpoints: PathLike,
    tensorboard: PathLike | None = None,
    device: str = "auto",
    callbacks: Sequence[Callback] = (),
    offdiag_bound: float | None = None,
) -> TrainResult:
    """Stage 2 of the curve (`likelihood` supn or diag) from the frozen `mean_model` (the final stage-1 snapshot):
    `steps.fit_precision_stage` for max(steps) steps with snapshots → `outputs` (`offdiag_bound`: the bounded
    SUPN's ρ̄, None = the published model)."""
    batches = _stage_batches(npz, train_cfg, curve_cfg, quirks)
    run = cell_steps.fit_precision_stage(
        batches, mean_model, likelihood, quirks, _stage_settings(train_cfg, curve_cfg, batches), seed, checkpoints,
        device, offdiag_bound=offdiag_bound, tensorboard=tensorboard, callbacks=callbacks,
        trainer=_snapshot_trainer(curve_cfg), desc="cells curve",
    )  # fmt: skip
    result, snaps = run.result
    export_snapshots(snaps, result.history, outputs, history, run.meta)
    return result


# ------------------------------------------------------------------------------------------ scoring
def score_snapshot(
    snapshot: PathLike,
    npz: PathLike,
    cell_model: str,
    inference: str,
    score_cfg: Mapping[str, Any],
    quirks: Mapping[str, Any],
    seed: int,
    device: str = "auto",
) -> pd.DataFrame:
    """`steps.score` of one snapshot, plus the columns `stage`, `step_requested`, `step`, `epoch` of the snapshot."""
    _, meta = load_model(snapshot)
    frame = cell_steps.score(snapshot, npz, cell_model, inference, score_cfg, quirks, seed, device)
    return frame.assign(
        stage=meta["stage"],
        step_requested=int(meta["step_requested"]),
        step=int(meta["step"]),
        epoch=int(meta["epoch"]),
    )
