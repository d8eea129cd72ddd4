"""Throughput of the brain experiment's pixel scores on CPU (or any torch device).

Prints slices/s for
- `pixel_scores` (all five maps: one forward pass, two input-gradient backward passes, smoothing, combi),
- the released code's way (three separate forward/backward passes for ELBO, KL and Rec, then the same
  smoothing and combi), and the speed-up of the one-pass computation,
- a training step of the conv VAE with the per-sample augmentation, for scale.

Usage: python benchmarks/brain_scores.py [--threads 2] [--batch 64] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from anoloc.data.brain.augment import BrainAugment
from anoloc.models.conv_vae import ConvVAE
from anoloc.models.vae import elbo_loss
from anoloc.scores.vae import gaussian_smooth, input_gradients_separate, pixel_scores


def three_pass_scores(model: ConvVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The released code's computation: three forward/backward passes, then smoothing and batch-minmax combi."""
    g = input_gradients_separate(model, x)
    with torch.no_grad():
        rec = model.terms(x, sample=False)["rec_map"]
        kl = g["kl"]
        combi = gaussian_smooth((kl - kl.min()) / (kl.max() - kl.min())) * rec
        return {
            "rec": rec,
            "elbo_grad": gaussian_smooth(g["elbo"]),
            "kl_grad": gaussian_smooth(kl),
            "rec_grad": gaussian_smooth(g["rec"]),
            "combi": combi,
        }


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = ConvVAE().to(dev).eval()
    x = torch.randn(args.batch, 1, 64, 64, device=dev).clamp(-1.5, 1.5)

    one = pixel_scores(model, x)
    three = three_pass_scores(model, x)
    max_diff = max(float((one[k] - three[k]).abs().max() / three[k].abs().max()) for k in one)

    t_one = timed(lambda: pixel_scores(model, x), args.repeats)
    t_three = timed(lambda: three_pass_scores(model, x), args.repeats)

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    aug = BrainAugment()

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        elbo_loss(model, aug((x,)))["loss"].backward()
        opt.step()

    t_train = timed(train_step, args.repeats)
    b = args.batch
    print(f"device {dev}, {args.threads} threads, batch {b} slices of 64x64, best of {args.repeats}")
    print(f"{'computation':<52} {'s/batch':>9} {'slices/s':>9}")
    print(f"{'pixel_scores: 5 maps, 1 forward + 2 backward':<52} {t_one:9.3f} {b / t_one:9.1f}")
    print(f"{'released: 5 maps, 3 separate forward/backward':<52} {t_three:9.3f} {b / t_three:9.1f}")
    print(f"{'training step (augmentation + forward + backward)':<52} {t_train:9.3f} {b / t_train:9.1f}")
    print(f"speed-up of the one-forward gradients: {t_three / t_one:.2f}x (max relative map difference {max_diff:.1e})")


if __name__ == "__main__":
    main()
