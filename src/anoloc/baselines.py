"""Two simple non-deep baselines behind the interface of `anoloc.knn.base.KNNMethod`.

Interface (the same as SPADE / PaDiM / PatchCore, so the matrix evaluator treats every method alike):
``method.fit(batches)`` on normal images only (an iterable of (B, C, H, W) float tensors), then
``scores, maps = method.predict(x)`` → image scores (B,) and anomaly maps (B, H, W) at the input resolution,
higher = more anomalous.

- `ZScoreThreshold` ("domain knowledge"): the pixel score is the intensity's z-score w.r.t. the normal
  training pixels, z = (x − μ) / σ with μ, σ the mean and standard deviation (ddof 0) of every pixel of every
  training image (per channel; a multi-channel map is the mean of the channels' z); |z| when `two_sided`. The
  image score is the `quantile` of the image's pixel scores (1 = the maximum). Thresholding z is thresholding
  the raw intensity: on hyperintense lesions (brain T2) this baseline is reported as hard to beat.
- `NearestNeighbour` (raw pixels): the image score is the Euclidean distance ‖x − x_nn‖₂ over all pixels and
  channels to the nearest normal training image x_nn; the map is |x − x_nn| (mean over channels).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

import torch

from anoloc.knn.base import knn_search


class AnomalyMethod(Protocol):
    """Fit on normal images, predict (image scores, anomaly maps) — `KNNMethod` and the baselines."""

    name: ClassVar[str]

    def fit(self, batches: Iterable[torch.Tensor]) -> AnomalyMethod: ...

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def describe(self) -> dict[str, Any]: ...


class _Baseline:
    name: ClassVar[str]

    def __init__(self) -> None:
        self.fitted = False
        self.n_train = 0

    def _check(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name}: call fit() before predict()")


class ZScoreThreshold(_Baseline):
    """Pixel score = z-score of the intensity w.r.t. the normal training pixels; image score = a quantile of it."""

    name = "zscore"

    def __init__(self, quantile: float = 0.99, two_sided: bool = False):
        super().__init__()
        if not 0.0 < float(quantile) <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        self.quantile = float(quantile)
        self.two_sided = bool(two_sided)

    @torch.no_grad()
    def fit(self, batches: Iterable[torch.Tensor]) -> ZScoreThreshold:
        """μ and σ per channel over every training pixel (float64 sums, one pass)."""
        n, s1, s2 = 0, None, None
        for x in batches:
            x64 = x.double()
            b1, b2 = x64.sum((0, 2, 3)), (x64 * x64).sum((0, 2, 3))
            s1, s2 = (b1, b2) if s1 is None else (s1 + b1, s2 + b2)
            n += x.shape[0] * x.shape[2] * x.shape[3]
            self.n_train += x.shape[0]
        if s1 is None:
            raise ValueError(f"{self.name}: no training images")
        self.mean = s1 / n
        var = (s2 / n - self.mean**2).clamp_(min=0.0)
        std = var.sqrt()
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        self.fitted = True
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check()
        z = (x.double() - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        maps = z.mean(1)
        if self.two_sided:
            maps = maps.abs()
        scores = torch.quantile(maps.flatten(1), self.quantile, dim=1)
        return scores.float(), maps.float()

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "quantile": self.quantile, "two_sided": self.two_sided}


class NearestNeighbour(_Baseline):
    """Image score = distance to the nearest normal training image in raw pixel space; map = |x − nearest|."""

    name = "nearest"

    def __init__(self, chunk_size: int = 4096):
        super().__init__()
        self.chunk_size = int(chunk_size)

    @torch.no_grad()
    def fit(self, batches: Iterable[torch.Tensor]) -> NearestNeighbour:
        """Keep every training image (flattened, float32)."""
        parts = [x.float().flatten(1) for x in batches]
        if not parts:
            raise ValueError(f"{self.name}: no training images")
        self.bank = torch.cat(parts)
        self.n_train = self.bank.shape[0]
        self.fitted = True
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check()
        q = x.float().flatten(1)
        if q.shape[1] != self.bank.shape[1]:
            raise ValueError(
                f"{self.name}: images of {q.shape[1]} values, the training images have {self.bank.shape[1]}"
            )
        _, idx = knn_search(q, self.bank, 1, self.chunk_size, backend="torch")
        nearest = self.bank[idx[:, 0]]
        diff = (q - nearest).view_as(x.float())
        scores = torch.linalg.vector_norm(diff.flatten(1).double(), dim=1)  # recomputed exactly from the pair
        return scores.float(), diff.abs().mean(1)

    def describe(self) -> dict[str, Any]:
        return {"method": self.name}


BASELINES: dict[str, type[_Baseline]] = {"zscore": ZScoreThreshold, "nearest": NearestNeighbour}


def build_baseline(name: str, params: dict[str, Any] | None = None) -> AnomalyMethod:
    """Instantiate baseline `name` with keyword hyperparameters `params` (a config section)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    return BASELINES[name](**dict(params or {}))  # type: ignore[return-value]
