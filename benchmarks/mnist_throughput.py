"""Training and scoring throughput of the FC VAE on CPU, and the projected time of the paper's table.

    python benchmarks/mnist_throughput.py [--threads 2] [--epochs 2]

Prints images/s for training (batch 128, Adam, the shared training loop) and scoring, and projects the
full paper FashionMNIST table (10 held-out classes × 25 epochs × 54k images, one seed, default
hyperparameters) from the measured rate. Uses random data of MNIST size; speed does not depend on content.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from anoloc.data.loaders import TensorBatches
from anoloc.models.fc_vae import FCVAE
from anoloc.models.vae import elbo_loss
from anoloc.scores.vae import sample_scores
from anoloc.train import TrainConfig, fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=54_000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(args.n_train, 1, 28, 28)
    rows = []
    for z, scaling in [(20, 1), (20, 2)]:
        model = FCVAE(z=z, scaling=scaling)
        batches = TensorBatches([x], 128, shuffle=True)
        with tempfile.TemporaryDirectory() as run_dir:
            t0 = time.perf_counter()
            fit(model, elbo_loss, batches, TrainConfig(epochs=args.epochs, device="cpu"), run_dir)
            train_rate = args.epochs * args.n_train / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        sample_scores(model, x[:10_000], device="cpu")
        score_rate = 10_000 / (time.perf_counter() - t0)
        rows.append((z, scaling, train_rate, score_rate))

    print(f"FC VAE on CPU, {args.threads} threads, batch 128, {args.epochs} epochs of {args.n_train} images\n")
    print("| z  | s | train images/s | score images/s | paper FashionMNIST table (10 classes × 25 epochs) |")
    print("|----|---|---------------:|---------------:|------------------------------:|")
    for z, s, tr, sc in rows:
        total = 10 * 25 * 54_000 / tr + 10 * 10_000 / sc
        print(f"| {z:<2} | {s} | {tr:14,.0f} | {sc:14,.0f} | {total / 60:26.1f} min |")
    print("\nBudget: the s = 1 projection must be ≤ 20 min on 2 cores (plus ~5 s start-up per Snakemake job).")


if __name__ == "__main__":
    main()
