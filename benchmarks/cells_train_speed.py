"""Training speed of the cell VAE on the CPU: optimiser steps per second of stage 1 (encoder + mean decoder,
fixed-variance NLL) and of stage 2 (SUPN / diag precision decoder, encoder and mean frozen), through the
project's one training loop (`anoloc.train.fit`, in-memory `TensorBatches`, random flips), and the time the
paper's schedule (≈100k steps of 256 per stage) would take at that rate.

    nice -n 10 python benchmarks/cells_train_speed.py [--threads 2] [--batch 64 256] [--steps 10] [--compile]

Random images in [−1, 1] (the speed does not depend on the content). Two measures: wall-clock steps/s, and the
CPU seconds the process spent per step (user + system, all threads). On a shared machine the wall-clock rate
depends on the load (printed with the table); with `--threads 1` the CPU time per step hardly does, so it is
the number to compare between code versions. `--compile` sets `TrainConfig.compile` (torch.compile of the
loss; the warm-up steps include the compilation).
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


def steps_per_second(stage: str, batch: int, steps: int, warmup: int, train_kwargs: dict) -> tuple[float, float]:
    """(steps/s, CPU seconds per step) of `fit` over `steps` steps of `batch` images (after `warmup` untimed
    steps)."""
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
        t0, c0 = time.perf_counter(), time.process_time()
        fit(model, loss, timed, cfg, f"{tmp}/timed", params=params)
        return steps / (time.perf_counter() - t0), (time.process_time() - c0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--steps", type=int, default=10, help="timed steps per stage and batch size")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--stages", nargs="+", default=["mean", "supn", "diag"], choices=["mean", "supn", "diag"])
    ap.add_argument("--compile", action="store_true", help="TrainConfig.compile = True")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kwargs = {"compile": True} if args.compile else {}
    rows = []
    load0 = os.getloadavg()[0]
    for batch in args.batch:
        for stage in args.stages:
            rate, cpu = steps_per_second(stage, batch, args.steps, args.warmup, kwargs)
            rows.append((stage, batch, rate, cpu))
            print(f"  {stage} batch {batch}: {rate:.3f} steps/s, {cpu:.3f} CPU s/step", flush=True)
    load = (load0 + os.getloadavg()[0]) / 2
    print(
        f"\nCell VAE training on CPU, {args.threads} thread(s), compile {args.compile}, {args.steps} timed steps; "
        f"load average {load:.1f} on {os.cpu_count()} cores\n"
    )
    print("| stage | batch | steps/s | images/s | CPU s/step | paper schedule (100k steps) at this rate |")
    print("|-------|------:|--------:|---------:|-----------:|-----------------------------------------:|")
    for stage, batch, rate, cpu in rows:
        print(
            f"| {stage} | {batch} | {rate:.3f} | {rate * batch:.0f} | {cpu:.3f} | {PAPER_STEPS / rate / 3600:.1f} h |"
        )


if __name__ == "__main__":
    main()
