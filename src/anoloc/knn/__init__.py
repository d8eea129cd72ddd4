"""SPADE, PaDiM and PatchCore on a shared frozen backbone (spec supn-cells §6), one small module each.

extractor = FeatureExtractor("efficientnet_lite0", STAGES_NEEDED["patchcore"])
method = build_method("patchcore", extractor, {"coreset_fraction": 0.1})
method.fit(train_batches)
scores, maps = method.predict(test_batch)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anoloc.features import FeatureExtractor
from anoloc.knn.base import KNNMethod, knn_search, preprocess, preprocess_masks
from anoloc.knn.padim import PaDiM
from anoloc.knn.patchcore import PatchCore
from anoloc.knn.spade import SPADE

METHODS: dict[str, type[KNNMethod]] = {"spade": SPADE, "padim": PaDiM, "patchcore": PatchCore}
STAGES_NEEDED = {name: cls.stages for name, cls in METHODS.items()}

__all__ = [
    "METHODS",
    "SPADE",
    "STAGES_NEEDED",
    "KNNMethod",
    "PaDiM",
    "PatchCore",
    "build_method",
    "knn_search",
    "preprocess",
    "preprocess_masks",
]


def build_method(name: str, extractor: FeatureExtractor, params: Mapping[str, Any] | None = None) -> KNNMethod:
    """Instantiate method `name` on `extractor` with keyword hyperparameters `params` (a config section)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}")
    return METHODS[name](extractor, **dict(params or {}))
