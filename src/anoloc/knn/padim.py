"""PaDiM (Defard et al. 2021) as in ind_knn_ad 57de628 (spec §6.3), with streaming statistics.

Per feature-grid position p, the normal patch embeddings (layers 1–3 at the layer-1 resolution, d random
channels) are modelled by a Gaussian N(μ_p, Σ_p + εI); the anomaly map is the Mahalanobis distance.

Differences from ind_knn_ad, all deliberate:
- the mean and covariance are accumulated **streaming** (running sums of x and x xᵀ, shifted by the first batch's
  mean so that the sums are of centred features), so memory is O(positions·d²) whatever the number of training
  images; ind_knn_ad stacked every training embedding (≈ 2.2 GB for 100 WRN50 images). The sums are float32 and
  updated once per `block` samples (a rank-`block` matrix product instead of one per batch: the update reads and
  writes the P·d² sums, so fewer, larger updates are what makes it fast); the covariance and its Cholesky factor
  are computed in float64, a chunk of positions at a time (that is where the conditioning, down to ε, matters),
  and the float32 factor L_p (Σ_p + εI = L_p L_pᵀ) overwrites the sums: the fitted model needs no second P·d²
  array, so the PaDiM paper's WRN50 d = 550 (3.8 GB of factors) fits in 8 GB;
- the Mahalanobis distance is ‖L_p⁻¹(x − μ_p)‖ (a triangular solve), so no inverse is ever formed
  (`precision` gives Λ_p = (L_p L_pᵀ)⁻¹ when asked for);
- the random channel subset is drawn from a seeded generator and applied before accumulating (like
  ind_knn_ad's 2024 fix; the 2021 code took the mean over all 1792 channels first — same numbers);
- ε is a config value (ind_knn_ad 0.04, PaDiM 0.01);
- optional Gaussian blur of the map (`blur_sigma`; ind_knn_ad 0 = none, the PaDiM paper σ = 4).
The image score is the maximum of the feature-grid map (ind_knn_ad; anomalib takes the maximum of the blurred,
upsampled map instead, which ranks images differently when `blur_sigma` > 0).
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

    `update(x)` takes x of shape (P, B, d) (B new samples at each of P positions). Samples are buffered and added
    `block` at a time as Σ (x − s)(x − s)ᵀ with s the first batch's mean (sums of centred features, so a float32
    `dtype` loses no accuracy to cancellation). Memory: O(P·d²) plus the buffer, constant in the number of samples.
    """

    def __init__(
        self, positions: int, dim: int, device: torch.device | str = "cpu", dtype=torch.float64, block: int = 1
    ):
        self.n = 0
        self.block = max(1, int(block))
        self.shift: torch.Tensor | None = None
        self._buffer: torch.Tensor | None = None  # (P, block, d), allocated once
        self._fill = 0
        self.s1 = torch.zeros(positions, dim, device=device, dtype=dtype)
        self.s2 = torch.zeros(positions, dim, dim, device=device, dtype=dtype)

    def update(self, x: torch.Tensor) -> None:
        if self.shift is None:
            self.shift = x.to(torch.float64).mean(1, keepdim=True).to(self.s1.dtype)
        self.n += x.shape[1]
        if self._fill == 0 and x.shape[1] >= self.block:
            self._add(x.to(self.s1.dtype))
            return
        if self._buffer is None:
            self._buffer = torch.empty(x.shape[0], self.block, x.shape[2], device=x.device, dtype=self.s1.dtype)
        i = 0
        while i < x.shape[1]:
            take = min(x.shape[1] - i, self.block - self._fill)
            self._buffer[:, self._fill : self._fill + take] = x[:, i : i + take]
            self._fill += take
            i += take
            if self._fill == self.block:
                self._flush()

    def _add(self, x: torch.Tensor, in_place: bool = False) -> None:
        x = x.sub_(self.shift) if in_place else x - self.shift
        self.s1 += x.sum(1)
        self.s2.baddbmm_(x.transpose(1, 2), x)

    def _flush(self) -> None:
        if self._fill:
            self._add(self._buffer[:, : self._fill], in_place=True)  # no second buffer-sized temporary
            self._fill = 0

    def _check(self) -> None:
        self._flush()
        if self.n < 2:
            raise ValueError(f"need at least 2 samples for a covariance, got {self.n}")

    def mean(self) -> torch.Tensor:
        """(P, d) sample means, float64."""
        self._check()
        return self.s1.double() / self.n + self.shift[:, 0].double()

    def covariance(self, positions: slice = slice(None)) -> torch.Tensor:
        """(p, d, d) unbiased (1/(n−1)) covariances of the selected positions, float64."""
        self._check()
        m = self.s1[positions].double() / self.n
        cov = self.s2[positions].to(torch.float64, copy=True)
        cov.baddbmm_(m.unsqueeze(2), m.unsqueeze(1), alpha=-self.n)  # Σ (x−s)(x−s)ᵀ − n m mᵀ, in place
        return cov.div_(self.n - 1)

    def finalise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean (P, d), covariance (P, d, d)), float64."""
        return self.mean(), self.covariance()


def mahalanobis_cholesky(x: torch.Tensor, mean: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """‖L_p⁻¹(x − μ_p)‖ = sqrt((x − μ_p)ᵀ (L_p L_pᵀ)⁻¹ (x − μ_p)) for x (P, B, d), mean (P, d) and lower
    Cholesky factors chol (P, d, d) → (P, B)."""
    delta = (x - mean.unsqueeze(1)).contiguous().transpose(1, 2)  # (P, d, B), each matrix column-major for LAPACK
    z = torch.linalg.solve_triangular(chol, delta, upper=False)
    return z.pow(2).sum(1).sqrt()


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
        buffer_mb: float = 256.0,
    ):
        """`buffer_mb`: size of the sample buffer between two updates of the running sums (speed only)."""
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
        self.buffer_mb = float(buffer_mb)
        self.stats: RunningGaussian | None = None
        self.mean: torch.Tensor | None = None
        self.chol: torch.Tensor | None = None
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
            block = int(self.buffer_mb * 2**20 / (4 * h * w * d))
            self.stats = RunningGaussian(h * w, d, device=e.device, dtype=torch.float32, block=block)
        self.stats.update(e.reshape(b, d, h * w).permute(2, 0, 1))

    def _finalise(self, n: int, chunk: int = 64) -> None:
        """Cholesky factors of Σ_p + εI in float64, a chunk of positions at a time, stored in float32 over the sums."""
        stats = self.stats
        self.mean = stats.mean().float()
        for p0 in range(0, stats.s2.shape[0], chunk):
            sl = slice(p0, p0 + chunk)
            cov = stats.covariance(sl)
            cov.diagonal(dim1=1, dim2=2).add_(self.eps)
            # the sums of this chunk are no longer needed: store L_p there, transposed, i.e. column-major as
            # LAPACK's triangular solve wants it (a row-major L would be copied at every predict)
            stats.s2[sl] = torch.linalg.cholesky(cov).transpose(1, 2)
        self.chol = stats.s2.transpose(1, 2)
        self.stats = None

    @property
    def precision(self) -> torch.Tensor | None:
        """(P, d, d) precision matrices Λ_p = (Σ_p + εI)⁻¹ (computed from the factors on demand)."""
        if self.chol is None:
            return None
        return torch.cat([torch.cholesky_inverse(c.double()).float() for c in self.chol.split(128)])

    def _predict(self, feats: dict[str, torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(feats)
        b, d, h, w = e.shape
        dist = mahalanobis_cholesky(e.reshape(b, d, h * w).permute(2, 0, 1), self.mean, self.chol)  # (P, B)
        grid_map = dist.T.reshape(b, h, w)
        scores = grid_map.flatten(1).amax(1)
        return scores, gaussian_blur(upsample(grid_map, size), self.blur_sigma)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "d": self.d, "eps": self.eps, "seed": self.seed}
