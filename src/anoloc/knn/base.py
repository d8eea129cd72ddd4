"""What SPADE, PaDiM and PatchCore share: preprocessing, the method interface, map post-processing and an
exact nearest-neighbour search with bounded memory.

Interface (anomalib-style): ``method.fit(batches)`` on normal images only, then
``scores, maps = method.predict(x)``: one image score (higher = more anomalous) and one anomaly map at the
input resolution per image. ``batches`` is any iterable of normalised image tensors (B, 3, H, W), so images
can be streamed from disk; methods that keep per-image data (SPADE, PatchCore) store only features.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from anoloc.features import IMAGENET_MEAN, IMAGENET_STD, FeatureExtractor

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ preprocessing
def _as_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) → float (N, 3, H, W) in [0, 1] (grayscale repeated to 3 channels)."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, copy=True))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images (N, H, W) or (N, H, W, 3), got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def _center_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if crop > min(h, w):
        raise ValueError(f"crop {crop} is larger than the resized image {h}x{w}")
    top, left = round((h - crop) / 2.0), round((w - crop) / 2.0)
    return x[..., top : top + crop, left : left + crop]


def _resize_short(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize so that the shorter side is `size` (torchvision `Resize(int)` semantics)."""
    h, w = x.shape[-2:]
    new = (size, max(1, int(size * w / h))) if h <= w else (max(1, int(size * h / w)), size)
    if (h, w) == new:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=new, mode="nearest-exact")
    return F.interpolate(x, size=new, mode=mode, align_corners=False, antialias=True)


def preprocess(
    images: np.ndarray | torch.Tensor, resize: int = 256, crop: int = 224, pre_resize: int | None = None
) -> torch.Tensor:
    """uint8 images → normalised (N, 3, crop, crop): [pre_resize²] → resize(shorter side, bicubic) →
    centre crop → ImageNet mean/std (ind_knn_ad's MVTec pipeline; `pre_resize: 128` = the SUPN repo's)."""
    x = _as_nchw(images)
    if pre_resize:
        x = F.interpolate(x, size=(pre_resize, pre_resize), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0.0, 1.0)
    x = _center_crop(_resize_short(x, resize, "bicubic").clamp(0.0, 1.0), crop)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def preprocess_masks(
    masks: np.ndarray | torch.Tensor, resize: int = 256, crop: int = 224, pre_resize: int | None = None
) -> torch.Tensor:
    """Boolean masks (N, H, W) through the same geometry as `preprocess`, nearest-neighbour."""
    m = torch.from_numpy(np.array(masks, dtype=bool)).unsqueeze(1).float()
    if pre_resize:
        m = F.interpolate(m, size=(pre_resize, pre_resize), mode="nearest-exact")
    return _center_crop(_resize_short(m, resize, "nearest"), crop)[:, 0] > 0.5


def denormalise(x: torch.Tensor) -> np.ndarray:
    """Normalised (N, 3, H, W) → uint8 (N, H, W, 3), for figures."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    img = (x.detach().cpu() * std + mean).clamp(0, 1).mul(255).round().byte()
    return img.permute(0, 2, 3, 1).numpy()


# ------------------------------------------------------------------------------ map post-processing
def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of (B, h, w) maps to `size` (align_corners=False)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False)[:, 0]


def _pad_symmetric(x: torch.Tensor, r: int) -> torch.Tensor:
    """Half-sample symmetric padding of the last two dims (scipy.ndimage's mode "reflect": d c b a | a b c d)."""
    x = torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1) if r else x
    return torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], dim=-2) if r else x


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, H, W) float maps: σ in pixels, kernel radius round(4σ), symmetric padding — i.e.
    `scipy.ndimage.gaussian_filter(map, sigma)` with its defaults, as in the original SPADE / PaDiM / PatchCore code.

    ind_knn_ad (2021) instead quantised the map to an 8-bit PIL image and used Pillow's box-blur
    approximation (spec §6.1); we blur the float map directly. σ = 0 returns the map unchanged.
    """
    if sigma <= 0:
        return maps
    h, w = maps.shape[-2:]
    radius = min(int(4 * sigma + 0.5), h, w)
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(maps.dtype).to(maps.device)
    x = _pad_symmetric(maps.unsqueeze(1), radius)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]


# ------------------------------------------------------------------------ nearest-neighbour search
def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def knn_search(
    query: torch.Tensor, bank: torch.Tensor, k: int, chunk_size: int = 4096, backend: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours (Euclidean) of each query row among the bank rows.

    Returns (distances, indices), both (M, k), ascending. The torch backend works on `chunk_size` query rows
    × `chunk_size` bank rows at a time, merging running top-k lists, so memory stays O(chunk_size²)
    whatever the bank size. `backend="faiss"` uses `faiss.IndexFlatL2` (exact; CPU); `"auto"` picks faiss
    when it is installed and the tensors are on the CPU.
    """
    if k > bank.shape[0]:
        raise ValueError(f"k = {k} > {bank.shape[0]} bank rows")
    use_faiss = backend == "faiss" or (backend == "auto" and query.device.type == "cpu" and _faiss_available())
    if use_faiss:
        import faiss

        faiss.omp_set_num_threads(torch.get_num_threads())
        index = faiss.IndexFlatL2(bank.shape[1])
        index.add(np.ascontiguousarray(bank.detach().cpu().numpy(), dtype=np.float32))
        d2, idx = index.search(np.ascontiguousarray(query.detach().cpu().numpy(), dtype=np.float32), k)
        return torch.from_numpy(d2).clamp_(min=0).sqrt_().to(query.device), torch.from_numpy(idx).to(query.device)
    out_d, out_i = [], []
    bank_sq = (bank * bank).sum(1)
    for q0 in range(0, query.shape[0], chunk_size):
        q = query[q0 : q0 + chunk_size]
        q_sq = (q * q).sum(1, keepdim=True)
        best_d = best_i = None
        for b0 in range(0, bank.shape[0], chunk_size):
            b = bank[b0 : b0 + chunk_size]
            d2 = torch.addmm(q_sq + bank_sq[b0 : b0 + chunk_size].unsqueeze(0), q, b.T, alpha=-2.0)
            kk = min(k, b.shape[0])
            d, i = torch.topk(d2, kk, dim=1, largest=False)
            i = i + b0
            if best_d is not None:
                d, sel = torch.topk(torch.cat([best_d, d], 1), min(k, best_d.shape[1] + kk), dim=1, largest=False)
                i = torch.gather(torch.cat([best_i, i], 1), 1, sel)
            best_d, best_i = d, i
        out_d.append(best_d.clamp_(min=0).sqrt_())
        out_i.append(best_i)
    return torch.cat(out_d), torch.cat(out_i)


# --------------------------------------------------------------------------------- method interface
class KNNMethod(ABC):
    """Fit on normal images, predict (image scores, anomaly maps)."""

    name: ClassVar[str]
    stages: ClassVar[tuple[str, ...]]

    def __init__(self, extractor: FeatureExtractor, blur_sigma: float = 4.0):
        missing = set(self.stages) - set(extractor.stages)
        if missing:
            raise ValueError(f"{self.name} needs backbone stages {sorted(missing)}")
        self.extractor = extractor
        self.blur_sigma = float(blur_sigma)
        self.fitted = False

    @property
    def device(self) -> torch.device:
        return next(self.extractor.parameters()).device

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.extractor(x.to(self.device, non_blocking=True))
        return {s: feats[s].float() for s in self.stages}

    @torch.no_grad()
    def fit(self, batches: Iterable[torch.Tensor]) -> KNNMethod:
        """Learn the normal model from an iterable of normalised image batches."""
        n = 0
        for x in batches:
            self._fit_batch(self.features(x))
            n += x.shape[0]
        if n == 0:
            raise ValueError(f"{self.name}: no training images")
        self._finalise(n)
        self.n_train = n
        self.fitted = True
        log.info("%s fitted on %d images (%s)", self.name, n, self.extractor.label)
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores (B,), maps (B, H, W)) for a normalised batch (B, 3, H, W); maps at the input size."""
        if not self.fitted:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        scores, maps = self._predict(self.features(x), tuple(x.shape[-2:]))
        return scores.float().cpu(), maps.float().cpu()

    def describe(self) -> dict[str, Any]:
        """Hyperparameters recorded with the results."""
        return {"method": self.name, "backbone": self.extractor.label, "blur_sigma": self.blur_sigma}

    @abstractmethod
    def _fit_batch(self, feats: dict[str, torch.Tensor]) -> None: ...

    def _finalise(self, n: int) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def _predict(self, feats: dict[str, torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]: ...
