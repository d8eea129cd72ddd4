"""Anomaly scores of the VAE experiments (vae-kl-grad spec §4). Higher = more anomalous."""

from __future__ import annotations

import numpy as np
import torch

from anoloc.models.vae import GaussianVAE
from anoloc.utils import resolve_device

SAMPLE_SCORES = ("kl", "rec", "elbo")


@torch.no_grad()
def sample_scores(
    model: GaussianVAE,
    images: torch.Tensor,
    n_samples: int = 0,
    batch_size: int = 1024,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Per-image KL, Rec and ELBO (= KL + Rec, the negative ELBO).

    `n_samples = 0`: deterministic, z = μ (the default). `n_samples = k > 0`: Rec is the Monte-Carlo
    mean over k posterior samples (the released code used one sample); KL is analytic either way.
    """
    dev = resolve_device(device)
    model.eval().to(dev)
    out: dict[str, list[np.ndarray]] = {k: [] for k in SAMPLE_SCORES}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(dev)
        if n_samples <= 0:
            t = model.terms(x, sample=False)
            kl, rec = t["kl"], t["rec"]
        else:
            recs = []
            for _ in range(n_samples):
                t = model.terms(x, sample=True)
                recs.append(t["rec"])
            kl, rec = t["kl"], torch.stack(recs).mean(0)
        out["kl"].append(kl.cpu().numpy())
        out["rec"].append(rec.cpu().numpy())
        out["elbo"].append((kl + rec).cpu().numpy())
    return {k: np.concatenate(v).astype(np.float64) for k, v in out.items()}
