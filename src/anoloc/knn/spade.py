"""SPADE (Cohen & Hoshen 2020) as in ind_knn_ad 57de628 (spec §6.2).

Image level: the global-average-pooled layer-4 feature z; score = mean Euclidean distance to the k nearest
training images. Pixel level: for layers 1–3, the distance at each position to the feature at the *same
position* of each of those k images, minimum over the k images, bilinearly upsampled, summed over the three
layers, then Gaussian-blurred (σ = 4). (The SPADE paper searches all positions of the k images; ind_knn_ad
compares only the same position — kept here, as the spec describes.)
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from anoloc.features import FeatureExtractor
from anoloc.knn.base import KNNMethod, gaussian_blur, knn_search, upsample

MAP_STAGES = ("layer1", "layer2", "layer3")


class SPADE(KNNMethod):
    name = "spade"
    stages: ClassVar[tuple[str, ...]] = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, extractor: FeatureExtractor, k: int = 50, blur_sigma: float = 4.0, chunk_size: int = 4096):
        super().__init__(extractor, blur_sigma)
        self.k = int(k)
        self.chunk_size = int(chunk_size)
        self._z: list[torch.Tensor] = []
        self._maps: dict[str, list[torch.Tensor]] = {s: [] for s in MAP_STAGES}

    def _fit_batch(self, feats: dict[str, torch.Tensor]) -> None:
        self._z.append(F.adaptive_avg_pool2d(feats["layer4"], 1).flatten(1))
        for s in MAP_STAGES:
            self._maps[s].append(feats[s])

    def _finalise(self, n: int) -> None:
        self.z_lib = torch.cat(self._z)
        self.map_lib = {s: torch.cat(v) for s, v in self._maps.items()}
        self._z, self._maps = [], {s: [] for s in MAP_STAGES}

    def _predict(self, feats: dict[str, torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        z = F.adaptive_avg_pool2d(feats["layer4"], 1).flatten(1)
        k = min(self.k, self.z_lib.shape[0])
        dist, idx = knn_search(z, self.z_lib, k, self.chunk_size, backend="torch")
        scores = dist.mean(1)
        maps = []
        for b in range(z.shape[0]):
            total = torch.zeros(size, device=z.device)
            for s in MAP_STAGES:
                gallery = self.map_lib[s][idx[b]]  # (k, C, h, w)
                d = torch.linalg.vector_norm(gallery - feats[s][b : b + 1], dim=1)  # (k, h, w)
                total += upsample(d.amin(0, keepdim=True), size)[0]
            maps.append(total)
        return scores, gaussian_blur(torch.stack(maps), self.blur_sigma)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "k": self.k}
