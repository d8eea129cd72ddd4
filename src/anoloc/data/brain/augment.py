"""Vectorised per-sample training augmentation of the brain slices (vae-kl-grad spec §3.4).

The released code draws one spatial transform per *batch* (spec §6.9); here every slice gets its own
flip, rotation and scale (one `affine_grid` / `grid_sample` call for the whole batch), brightness and noise.
Randomness comes from torch's global RNG, which the training loop reseeds per epoch (exact resume).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BrainAugment:
    """A `TensorBatches` transform: `(x, *rest) → (augment(x), *rest)` for x of shape (B, 1, H, W).

    Per sample, in this order: left-right flip (probability `flip_p`); rotation ~ U(−`rotation`, `rotation`)
    rad; scale ~ U(`scale_down`) or U(`scale_up`) with probability ½ each (the scale multiplies the sampling
    coordinates, so values > 1 zoom out); bilinear resampling with border padding; brightness × U(`brightness`);
    Gaussian noise with std ~ U(0, `noise_std`); clip to ±`clip`; then Gaussian noise with std
    ~ U(0, `noise_after_clip`) (the released code's `mask_type="gaussian"` input noise, added after the clip).
    """

    flip_p: float = 0.5
    rotation: float = 0.1
    scale_down: tuple[float, float] = (0.9, 1.0)
    scale_up: tuple[float, float] = (1.0, 1.2)
    brightness: tuple[float, float] = (0.95, 1.1)
    noise_std: float = 0.05
    clip: float = 1.5
    noise_after_clip: float = 0.2

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any], clip: float = 1.5) -> BrainAugment:
        kw: dict[str, Any] = {"clip": float(clip)}
        for k in ("flip_p", "rotation", "noise_std", "noise_after_clip"):
            if k in cfg:
                kw[k] = float(cfg[k])
        for k in ("scale_down", "scale_up", "brightness"):
            if k in cfg:
                kw[k] = tuple(float(v) for v in cfg[k])
        return cls(**kw)

    def __call__(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return (self.augment(batch[0]), *batch[1:])

    @staticmethod
    def _uniform(n: int, lo_hi: Sequence[float], like: torch.Tensor) -> torch.Tensor:
        lo, hi = lo_hi
        return lo + (hi - lo) * torch.rand(n, dtype=like.dtype, device=like.device)

    def theta(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """Random (n, 2, 3) affine matrices mapping output to input coordinates (`F.affine_grid` convention)."""
        flip = torch.where(torch.rand(n, device=like.device) < self.flip_p, -1.0, 1.0).to(like.dtype)
        angle = self._uniform(n, (-self.rotation, self.rotation), like)
        up = torch.rand(n, device=like.device) < 0.5
        scale = torch.where(up, self._uniform(n, self.scale_up, like), self._uniform(n, self.scale_down, like))
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        zero = torch.zeros_like(cos)
        # input = scale · R(angle) · diag(flip, 1) · output
        row0 = torch.stack([cos * flip, -sin, zero], dim=1)
        row1 = torch.stack([sin * flip, cos, zero], dim=1)
        return torch.stack([row0, row1], dim=1)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        grid = F.affine_grid(self.theta(n, x), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        shape = (n,) + (1,) * (x.dim() - 1)
        out = out * self._uniform(n, self.brightness, x).view(shape)
        if self.noise_std > 0:
            out = out + torch.randn_like(out) * self._uniform(n, (0.0, self.noise_std), x).view(shape)
        out = out.clamp(-self.clip, self.clip)
        if self.noise_after_clip > 0:
            out = out + torch.randn_like(out) * self._uniform(n, (0.0, self.noise_after_clip), x).view(shape)
        return out
