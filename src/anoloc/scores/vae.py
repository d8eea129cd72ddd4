"""Anomaly scores of the VAE experiments (vae-kl-grad spec §4). Higher = more anomalous."""

from __future__ import annotations

import numpy as np
import torch

from anoloc.models.vae import GaussianVAE
from anoloc.scores.names import COMBI_NORMS, SAMPLE_SCORES
from anoloc.utils import resolve_device


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


# ------------------------------------------------------------------------ pixel-wise scores (spec §4.2)


def gaussian_kernel(size: int = 7, sigma: float = 3.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised 2D Gaussian kernel (size × size, sums to 1), as the released `smooth_tensor` (size 8 → 7)."""
    if size % 2 == 0:
        size -= 1
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def gaussian_smooth(maps: torch.Tensor, size: int = 7, sigma: float = 3.0) -> torch.Tensor:
    """Depthwise Gaussian smoothing of (B, C, H, W) maps with zero padding ("same" output size)."""
    k = gaussian_kernel(size, sigma, maps.dtype).to(maps.device)
    c = maps.shape[1]
    return torch.nn.functional.conv2d(maps, k.expand(c, 1, *k.shape), padding=k.shape[-1] // 2, groups=c)


def _minmax(g: torch.Tensor, lo: torch.Tensor | float, hi: torch.Tensor | float) -> torch.Tensor:
    return (g - lo) / torch.clamp(torch.as_tensor(hi, dtype=g.dtype, device=g.device) - lo, min=1e-12)


def pixel_scores(
    model: GaussianVAE,
    x: torch.Tensor,
    combi_norm: str = "batch",
    kl_range: tuple[float, float] | None = None,
    smooth_size: int = 7,
    smooth_sigma: float = 3.0,
    return_raw: bool = False,
) -> dict[str, torch.Tensor]:
    """The five pixel-wise anomaly maps of a batch of slices x (B, 1, H, W), each (B, 1, H, W), detached.

    - `rec`: per-pixel Gaussian NLL (x − x̂)²/(2c²) + log c + ½ log 2π with z = μ (no smoothing);
    - `elbo_grad`, `kl_grad`, `rec_grad`: |∂ term / ∂x| of the per-sample negative ELBO, KL and Rec, smoothed
      with a `smooth_size`² Gaussian (σ = `smooth_sigma`, zero padding);
    - `combi`: smooth(minmax(|∂KL/∂x|)) ⊙ rec, the min–max taken over the whole batch (`combi_norm="batch"`,
      the released code), per slice (`"slice"`) or over a fixed range `kl_range = (lo, hi)` of the raw
      |∂KL/∂x| (`"global"`, e.g. the range over a whole test set, see `global_combi`).

    The model runs in eval mode (z = μ) with ONE forward pass; the KL and Rec gradients come from two
    `torch.autograd.grad` calls on that graph and the ELBO gradient is their sum (the gradient is linear).
    Gradients are of the batch *sum*, so each slice gets its own gradient (no 1/B factor).
    `return_raw=True` adds `kl_grad_raw`, the un-smoothed |∂KL/∂x|.
    """
    if combi_norm not in COMBI_NORMS:
        raise ValueError(f"combi_norm must be one of {COMBI_NORMS}, got {combi_norm!r}")
    if combi_norm == "global" and kl_range is None:
        raise ValueError("combi_norm='global' needs kl_range=(lo, hi) (or use global_combi on the stored maps)")
    model.eval()
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        t = model.terms(xg, sample=False)
        (g_kl,) = torch.autograd.grad(t["kl"].sum(), xg, retain_graph=True)
        (g_rec,) = torch.autograd.grad(t["rec"].sum(), xg)
    rec = t["rec_map"].detach().reshape(x.shape)
    g_kl_abs = g_kl.abs()

    def smooth(m: torch.Tensor) -> torch.Tensor:
        return gaussian_smooth(m, smooth_size, smooth_sigma)

    if combi_norm == "batch":
        lo, hi = g_kl_abs.min(), g_kl_abs.max()
    elif combi_norm == "slice":
        flat = g_kl_abs.flatten(1)
        lo, hi = (v.view(-1, 1, 1, 1) for v in (flat.min(1).values, flat.max(1).values))
    else:
        lo, hi = (float(v) for v in kl_range)
    out = {
        "rec": rec,
        "elbo_grad": smooth((g_kl + g_rec).abs()),
        "kl_grad": smooth(g_kl_abs),
        "rec_grad": smooth(g_rec.abs()),
        "combi": smooth(_minmax(g_kl_abs, lo, hi)) * rec,
    }
    if return_raw:
        out["kl_grad_raw"] = g_kl_abs
    return out


def global_combi(
    kl_grad: torch.Tensor,
    rec: torch.Tensor,
    lo: float,
    hi: float,
    smooth_size: int = 7,
    smooth_sigma: float = 3.0,
) -> torch.Tensor:
    """combi = smooth(minmax(|∂KL/∂x|)) ⊙ rec with a fixed range [lo, hi] of the raw |∂KL/∂x|, computed post hoc
    from the stored *smoothed* `kl_grad` maps (B, 1, H, W).

    Smoothing is linear, so smooth((g − lo)/(hi − lo)) = (smooth(g) − lo·smooth(1))/(hi − lo), where
    smooth(1) < 1 near the border because of the zero padding. This gives the global normalisation of a whole
    test set from one scoring pass: record the min/max of the raw maps per batch, then apply this once.
    """
    ones = gaussian_smooth(torch.ones_like(kl_grad[:1]), smooth_size, smooth_sigma)
    return (kl_grad - lo * ones) / max(hi - lo, 1e-12) * rec


def input_gradients_separate(model: GaussianVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reference implementation of the released code's gradients: three separate forward/backward passes
    (ELBO, KL, Rec), each of the batch sum; returns the raw |∂ term/∂x| maps. Used by tests and benchmarks."""
    model.eval()
    out = {}
    with torch.enable_grad():
        for name in ("elbo", "kl", "rec"):
            xg = x.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(model.terms(xg, sample=False)[name].sum(), xg)
            out[name] = g.abs()
    return out
