"""Training speed of the cell VAE on the CPU: optimiser steps per second of stage 1 (encoder + mean decoder,
fixed-variance NLL) and of stage 2 (SUPN / diag precision decoder, encoder and mean frozen), through the
project's one training loop (`anoloc.train.fit`, in-memory `TensorBatches`, random flips), and the time the
paper's schedule (≈100k steps of 256 per stage) would take at that rate.

    nice -n 10 python benchmarks/cells_train_speed.py [--threads 2] [--batch 64 256] [--steps 10]

Random images in [−1, 1] (the speed does not depend on the content). The machine is shared: the load average
is printed with the table; compare runs made at similar loads, or take the best of a few.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time

import torch

from anoloc.data.loaders import TensorBatches
from anoloc.models.cell_vae import CellVAE, mean_stage_loss, precision_stage_loss
from anoloc.train import TrainConfig, fit

PAPER_STEPS = 100_000


def _random_flips(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    x = batch[0]
    h = torch.rand(len(x)) < 0.5
    v = torch.rand(len(x)) < 0.5
    x = torch.where(h.view(-1, 1, 1, 1), x.flip(-1), x)
    return (torch.where(v.view(-1, 1, 1, 1), x.flip(-2), x),)


def steps_per_second(stage: str, batch: int, steps: int, warmup: int, train_kwargs: dict) -> float:
    """Steps/s of `fit` over `steps` steps of `batch` images (after `warmup` untimed steps)."""
    torch.manual_seed(0)
    x = torch.rand(batch * max(steps, warmup), 1, 128, 128) * 2 - 1
    if stage == "mean":
        model = CellVAE(likelihood="fixed")
        loss, params = mean_stage_loss, None
    else:
        model = CellVAE(likelihood=stage)
        params = model.freeze_mean_path()
        loss = functools.partial(precision_stage_loss, l1_weight=0.0)
    cfg = TrainConfig(epochs=1, device="cpu", checkpoint_every=10**6, **train_kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        warm = TensorBatches([x[: batch * warmup]], batch, shuffle=True, drop_last=True, transform=_random_flips)
        fit(model, loss, warm, cfg, f"{tmp}/warm", params=params)
        timed = TensorBatches([x[: batch * steps]], batch, shuffle=True, drop_last=True, transform=_random_flips)
        t0 = time.perf_counter()
        fit(model, loss, timed, cfg, f"{tmp}/timed", params=params)
        return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--steps", type=int, default=10, help="timed steps per stage and batch size")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--stages", nargs="+", default=["mean", "supn", "diag"], choices=["mean", "supn", "diag"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for batch in args.batch:
        for stage in args.stages:
            rate = steps_per_second(stage, batch, args.steps, args.warmup, {})
            rows.append((stage, batch, rate))
            print(f"  {stage} batch {batch}: {rate:.3f} steps/s", flush=True)
    load = os.getloadavg()
    print(f"\nCell VAE training on CPU, {args.threads} threads, {args.steps} timed steps; load average {load[0]:.1f}\n")
    print("| stage | batch | steps/s | images/s | paper schedule (100k steps) at this batch |")
    print("|-------|------:|--------:|---------:|------------------------------------------:|")
    for stage, batch, rate in rows:
        print(f"| {stage} | {batch} | {rate:.3f} | {rate * batch:.0f} | {PAPER_STEPS / rate / 3600:.1f} h |")


if __name__ == "__main__":
    main()
