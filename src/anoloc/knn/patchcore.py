"""PatchCore (Roth et al. 2022) as in ind_knn_ad 57de628 (spec §6.4), with the paper's choices as defaults.

Patch features: layers 2 and 3, each averaged over its 3×3 neighbourhood, layer 3 upsampled to the layer-2
grid and concatenated. Memory bank: a greedy (farthest-point) coreset of the training patches, selected on a
sparse random projection. Anomaly map: distance of each test patch to its nearest bank patch; image score: the
largest patch distance s*, reweighted as in the paper's eq. 7.

Switches (defaults = paper / corrected behaviour):
- `legacy_pooling`: ind_knn_ad's AvgPool2d(3, stride 1) *without* padding followed by an adaptive average pool
  back to the raw layer-2 size, instead of a zero-padded 3×3 average + bilinear upsampling of layer 3 (PatchCore's
  zero-padded neighbourhoods; averaging only the in-image neighbours instead makes border and corner patches rare
  in the bank and lets them dominate the image score);
- `reweight_b`: size of the neighbourhood N_b(m*) of the nearest bank patch m* (paper b = 9, ind_knn_ad 3);
  `legacy_reweight`: ind_knn_ad's variant of eq. 7 (drop m* itself from N_b, distances divided by √D);
  otherwise eq. 7 literally, w = 1 − exp(s*) / Σ_{m ∈ N_b(m*)} exp‖m_test − m‖, computed with logsumexp;
- `legacy_patchcore_batch`: reproduce ind_knn_ad 2021's `reshape(C, -1).T` of a whole batch, which mixes the
  batch and channel dimensions when fitting with batch size > 1 (spec §5.4, quirk 11);
- `projection_dim`: fixed projection size for the coreset search (the PatchCore code uses 128); default `None`
  = the Johnson–Lindenstrauss bound for `projection_eps` (ind_knn_ad and anomalib: eps 0.9, i.e. 4 ln(M) /
  (0.9²/2 − 0.9³/3) ≈ 278 dims for 78,400 patches, 312 for 313,600); no projection when that bound is not below
  the feature size (so none for efficientnet_lite0's 152 dims, 278 of WRN50's 1536);
- `coreset`: "greedy" = the exact greedy farthest-point selection (the paper; one pass per few hundred picks,
  same picks as one at a time, `anoloc.knn.coreset.greedy_coreset`), or "partitioned" = the same greedy inside
  k-means cells of about `coreset_cell_size` patches with one global order (`partitioned_coreset`): linear
  instead of quadratic in the number of patches, equal to "greedy" when there is one cell, approximate otherwise.
Nearest-neighbour search is exact and chunked (`knn_search`), or faiss when installed (`knn_backend`).
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from anoloc.features import FeatureExtractor
from anoloc.knn.base import KNNMethod, gaussian_blur, knn_search, upsample
from anoloc.knn.coreset import greedy_coreset, partitioned_coreset

log = logging.getLogger(__name__)


def jl_dim(n_samples: int, eps: float) -> int:
    """Johnson–Lindenstrauss bound 4 ln(n) / (eps²/2 − eps³/3) (sklearn's `johnson_lindenstrauss_min_dim`)."""
    return int(4 * math.log(n_samples) / (eps**2 / 2 - eps**3 / 3))


def sparse_projection_matrix(n_features: int, n_components: int, seed: int) -> torch.Tensor:
    """Dense (n_features, n_components) matrix of sklearn's `SparseRandomProjection` (density 1/√n_features)."""
    from sklearn.random_projection import SparseRandomProjection

    srp = SparseRandomProjection(n_components=n_components, random_state=seed)
    srp.fit(np.zeros((1, n_features), dtype=np.float32))
    return torch.from_numpy(srp.components_.toarray().T.astype(np.float32))


CORESETS = ("greedy", "partitioned")


class PatchCore(KNNMethod):
    name = "patchcore"
    stages: ClassVar[tuple[str, ...]] = ("layer2", "layer3")

    def __init__(
        self,
        extractor: FeatureExtractor,
        coreset_fraction: float = 0.1,
        projection_eps: float = 0.9,
        projection_dim: int | None = None,
        reweight_b: int = 9,
        legacy_reweight: bool = False,
        legacy_pooling: bool = False,
        legacy_patchcore_batch: bool = False,
        blur_sigma: float = 4.0,
        chunk_size: int = 4096,
        knn_backend: str = "auto",
        coreset: str = "greedy",
        coreset_cell_size: int = 32768,
        seed: int = 0,
    ):
        super().__init__(extractor, blur_sigma)
        if not 0 < coreset_fraction <= 1:
            raise ValueError(f"coreset_fraction must be in (0, 1], got {coreset_fraction}")
        if coreset not in CORESETS:
            raise ValueError(f"coreset must be one of {CORESETS}, got {coreset!r}")
        self.coreset = coreset
        self.coreset_cell_size = int(coreset_cell_size)
        self.coreset_fraction = float(coreset_fraction)
        self.projection_eps = float(projection_eps)
        self.projection_dim = projection_dim
        self.reweight_b = int(reweight_b)
        self.legacy_reweight = bool(legacy_reweight)
        self.legacy_pooling = bool(legacy_pooling)
        self.legacy_patchcore_batch = bool(legacy_patchcore_batch)
        self.chunk_size = int(chunk_size)
        self.knn_backend = knn_backend
        self.seed = int(seed)
        self._patches: list[torch.Tensor] = []
        self.bank: torch.Tensor | None = None

    def embed(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, D, h2, w2) locally aggregated patch features on the layer-2 grid."""
        f2, f3 = feats["layer2"], feats["layer3"]
        grid = tuple(f2.shape[-2:])
        if self.legacy_pooling:
            f2 = F.adaptive_avg_pool2d(F.avg_pool2d(f2, 3, stride=1), grid)
            f3 = F.adaptive_avg_pool2d(F.avg_pool2d(f3, 3, stride=1), grid)
        else:
            f2 = F.avg_pool2d(f2, 3, stride=1, padding=1)  # zero padding, as PatchCore's padded unfold
            f3 = F.avg_pool2d(f3, 3, stride=1, padding=1)
            f3 = F.interpolate(f3, size=grid, mode="bilinear", align_corners=False)
        return torch.cat([f2, f3], 1)

    @staticmethod
    def flatten(e: torch.Tensor, legacy: bool = False) -> torch.Tensor:
        """(B, D, h, w) → (B·h·w, D) patch rows; `legacy` = ind_knn_ad 2021's `reshape(D, -1).T` of the batch."""
        if legacy:
            return e.reshape(e.shape[1], -1).T
        return e.permute(0, 2, 3, 1).reshape(-1, e.shape[1])

    def _fit_batch(self, feats: dict[str, torch.Tensor]) -> None:
        self._patches.append(self.flatten(self.embed(feats), self.legacy_patchcore_batch).contiguous())

    def _finalise(self, n: int) -> None:
        bank = torch.cat(self._patches)
        self._patches = []
        n_all, dim = bank.shape
        n_keep = max(1, int(self.coreset_fraction * n_all))
        if n_keep >= n_all:
            self.bank, self.coreset_dim = bank, None
            return
        proj_dim = self.projection_dim or jl_dim(n_all, self.projection_eps)
        if proj_dim < dim:
            proj = sparse_projection_matrix(dim, proj_dim, self.seed).to(bank.device)
            reduced = torch.cat([bank[i : i + 65536] @ proj for i in range(0, n_all, 65536)])
        else:
            reduced, proj_dim = bank, dim
        self.coreset_dim = proj_dim
        if self.coreset == "partitioned":
            idx = partitioned_coreset(reduced, n_keep, self.coreset_cell_size, self.seed)
        else:
            idx = greedy_coreset(reduced, n_keep)
        del reduced
        self.bank = bank[idx.to(bank.device)].contiguous()
        log.info("patchcore: %s coreset %d of %d patches (selection in %d dims)", self.coreset, n_keep, n_all, proj_dim)

    def _reweight(self, m_test: torch.Tensor, nn_idx: torch.Tensor, s_star: torch.Tensor) -> torch.Tensor:
        """Eq. 7 weight for each image: m_test (B, D) the most anomalous patch, nn_idx (B,) its nearest bank patch."""
        b = min(self.reweight_b, self.bank.shape[0])
        _, nb = knn_search(self.bank[nn_idx], self.bank, b, self.chunk_size, self.knn_backend)  # (B, b), m* first
        if self.legacy_reweight:
            nb = nb[:, 1:]
        if nb.shape[1] == 0:
            return torch.ones_like(s_star)
        dists = torch.linalg.norm(self.bank[nb] - m_test.unsqueeze(1), dim=-1)  # (B, |N_b|)
        if self.legacy_reweight:
            scale = math.sqrt(self.bank.shape[1])
            return 1 - torch.exp(s_star / scale) / torch.exp(dists / scale).sum(1)
        return 1 - torch.exp(s_star - torch.logsumexp(dists, dim=1))

    def _predict(self, feats: dict[str, torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(feats)
        bsz, dim, h, w = e.shape
        patches = self.flatten(e)
        dist, idx = knn_search(patches, self.bank, 1, self.chunk_size, self.knn_backend)
        min_val, nn_idx = dist[:, 0].reshape(bsz, h * w), idx[:, 0].reshape(bsz, h * w)
        s_star, s_idx = min_val.max(1)
        m_test = patches.reshape(bsz, h * w, dim)[torch.arange(bsz), s_idx]
        weight = self._reweight(m_test, nn_idx[torch.arange(bsz), s_idx], s_star)
        maps = gaussian_blur(upsample(min_val.reshape(bsz, h, w), size), self.blur_sigma)
        return weight * s_star, maps

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "coreset_fraction": self.coreset_fraction,
            "bank_size": None if self.bank is None else int(self.bank.shape[0]),
            "coreset_dim": getattr(self, "coreset_dim", None),
            "coreset": self.coreset,
            **({"coreset_cell_size": self.coreset_cell_size} if self.coreset == "partitioned" else {}),
            "reweight_b": self.reweight_b,
            "legacy_reweight": self.legacy_reweight,
            "legacy_pooling": self.legacy_pooling,
            "legacy_patchcore_batch": self.legacy_patchcore_batch,
        }
