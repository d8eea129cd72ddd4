"""PaDiM (Defard et al. 2021) as in ind_knn_ad 57de628 (spec §6.3), with streaming statistics.

Per feature-grid position p, the normal patch embeddings (layers 1–3 at the layer-1 resolution, d random
channels) are modelled by a Gaussian N(μ_p, Σ_p + εI); the anomaly map is the Mahalanobis distance.

Differences from ind_knn_ad, all deliberate:
- the mean and covariance are accumulated **streaming** (running sums of x and x xᵀ over batches, in float64,
  shifted by the first batch's mean for numerical stability), so memory is O(positions·d²) whatever the number of
  training images; ind_knn_ad stacked every training embedding (≈ 2.2 GB for 100 WRN50 images);
- the random channel subset is drawn from a seeded generator and applied before accumulating (like
  ind_knn_ad's 2024 fix; the 2021 code took the mean over all 1792 channels first — same numbers);
- the inverse uses a Cholesky factorisation in float64; ε is a config value (ind_knn_ad 0.04, PaDiM 0.01);
- optional Gaussian blur of the map (`blur_sigma`; ind_knn_ad 0 = none, the PaDiM paper σ = 4).
The image score is the maximum of the feature-grid map (ind_knn_ad).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from anoloc.features import FeatureExtractor
from anoloc.knn.base import KNNMethod, gaussian_blur, upsample

log = logging.getLogger(__name__)


class RunningGaussian:
    """Streaming mean and unbiased covariance of P independent d-dimensional Gaussians.

    `update(x)` takes x of shape (P, B, d) (B new samples at each of P positions). Memory: O(P·d²), constant
    in the number of samples.
    """

    def __init__(self, positions: int, dim: int, device: torch.device | str = "cpu", dtype=torch.float64):
        self.n = 0
        self.shift: torch.Tensor | None = None
        self.s1 = torch.zeros(positions, dim, device=device, dtype=dtype)
        self.s2 = torch.zeros(positions, dim, dim, device=device, dtype=dtype)

    def update(self, x: torch.Tensor) -> None:
        x = x.to(self.s1.dtype)
        if self.shift is None:
            self.shift = x.mean(1, keepdim=True)
        x = x - self.shift
        self.s1 += x.sum(1)
        self.s2.baddbmm_(x.transpose(1, 2), x)
        self.n += x.shape[1]

    def _check(self) -> None:
        if self.n < 2:
            raise ValueError(f"need at least 2 samples for a covariance, got {self.n}")

    def mean(self) -> torch.Tensor:
        """(P, d) sample means."""
        self._check()
        return self.s1 / self.n + self.shift[:, 0]

    def covariance(self, positions: slice = slice(None)) -> torch.Tensor:
        """(p, d, d) unbiased (1/(n−1)) covariances of the selected positions."""
        self._check()
        m = self.s1[positions] / self.n
        return (self.s2[positions] - self.n * m.unsqueeze(2) * m.unsqueeze(1)) / (self.n - 1)

    def finalise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean (P, d), covariance (P, d, d))."""
        return self.mean(), self.covariance()


def mahalanobis(x: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """sqrt((x − μ_p)ᵀ Λ_p (x − μ_p)) for x (P, B, d), mean (P, d), precision (P, d, d) → (P, B)."""
    delta = x - mean.unsqueeze(1)
    m2 = (torch.bmm(delta, precision) * delta).sum(-1)
    return m2.clamp_(min=0).sqrt_()


class PaDiM(KNNMethod):
    name = "padim"
    stages: ClassVar[tuple[str, ...]] = ("layer1", "layer2", "layer3")

    def __init__(
        self,
        extractor: FeatureExtractor,
        d: int = 250,
        eps: float = 0.01,
        seed: int = 0,
        blur_sigma: float = 0.0,
    ):
        super().__init__(extractor, blur_sigma)
        total = sum(extractor.channels[s] for s in self.stages)
        if d > total:
            log.warning("padim: d = %d > %d available channels; using all %d", d, total, total)
        self.d = min(int(d), total)
        self.eps = float(eps)
        self.seed = int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        chosen = torch.randperm(total, generator=gen)[: self.d].sort().values
        # split the global channel indices into per-stage indices (concatenation order layer1, layer2, layer3)
        self.channel_idx, offset = {}, 0
        for s in self.stages:
            c = extractor.channels[s]
            sel = chosen[(chosen >= offset) & (chosen < offset + c)] - offset
            self.channel_idx[s] = sel
            offset += c
        self.stats: RunningGaussian | None = None
        self.mean = self.precision = None
        self.grid: tuple[int, int] | None = None

    def embed(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, d, h1, w1): the selected channels of layers 1–3, nearest-upsampled to the layer-1 grid."""
        grid = tuple(feats["layer1"].shape[-2:])
        parts = []
        for s in self.stages:
            f = feats[s][:, self.channel_idx[s].to(feats[s].device)]
            if tuple(f.shape[-2:]) != grid:
                f = F.interpolate(f, size=grid, mode="nearest")
            parts.append(f)
        return torch.cat(parts, 1)

    def _fit_batch(self, feats: dict[str, torch.Tensor]) -> None:
        e = self.embed(feats)
        b, d, h, w = e.shape
        if self.stats is None:
            self.grid = (h, w)
            self.stats = RunningGaussian(h * w, d, device=e.device)
        self.stats.update(e.reshape(b, d, h * w).permute(2, 0, 1))

    def _finalise(self, n: int, chunk: int = 256) -> None:
        """Invert Σ_p + εI (Cholesky, float64) a chunk of positions at a time: the float64 temporaries stay small."""
        stats = self.stats
        positions = stats.s1.shape[0]
        eye = self.eps * torch.eye(self.d, dtype=stats.s2.dtype, device=stats.s2.device)
        self.precision = torch.empty(positions, self.d, self.d, device=stats.s2.device)
        for p0 in range(0, positions, chunk):
            sl = slice(p0, p0 + chunk)
            self.precision[sl] = torch.cholesky_inverse(torch.linalg.cholesky(stats.covariance(sl) + eye)).float()
        self.mean = stats.mean().float()
        self.stats = None  # free the running sums

    def _predict(self, feats: dict[str, torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(feats)
        b, d, h, w = e.shape
        dist = mahalanobis(e.reshape(b, d, h * w).permute(2, 0, 1), self.mean, self.precision)  # (P, B)
        grid_map = dist.T.reshape(b, h, w)
        scores = grid_map.flatten(1).amax(1)
        return scores, gaussian_blur(upsample(grid_map, size), self.blur_sigma)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "d": self.d, "eps": self.eps, "seed": self.seed}
