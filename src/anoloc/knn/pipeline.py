"""The kNN methods as an experiment runs them: backbone + method from a config section, fit and score arrays.

A *kNN section* is the part of the `mvtec` config a scoring job needs (`anoloc.experiments.mvtec.layout.
knn_section`): `method`, `params` (that method's hyperparameters), `backbone`, `preprocess` (resize / crop /
pre_resize) and `batch_size`. The MVTec and the cell experiments both go through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from anoloc.features import FeatureExtractor
from anoloc.knn import STAGES_NEEDED, KNNMethod, build_method, preprocess
from anoloc.utils import PathLike, resolve_device, seed_everything


def method_params(section: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Constructor keywords of the section's method (+ the seed where the method uses one)."""
    params = dict(section["params"])
    if section["method"] in ("padim", "patchcore"):
        params["seed"] = int(seed)
    return params


def build(section: Mapping[str, Any], seed: int, weights: PathLike | None = None, device: str = "auto") -> KNNMethod:
    """The frozen backbone (on `device`) and the section's method, seeded."""
    method = section["method"]
    seed_everything(seed)
    extractor = FeatureExtractor(section["backbone"]["name"], STAGES_NEEDED[method], weights_path=weights)
    extractor = extractor.to(resolve_device(device))
    return build_method(method, extractor, method_params(section, seed))


def preprocess_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `anoloc.knn.preprocess` (and `preprocess_masks`)."""
    p = section["preprocess"]
    return {"resize": int(p["resize"]), "crop": int(p["crop"]), "pre_resize": p["pre_resize"]}


def array_batches(images: np.ndarray, batch_size: int, prep: Mapping[str, Any]) -> Iterable[torch.Tensor]:
    """Preprocessed batches of uint8 images (N, H, W[, 3]), `batch_size` at a time."""
    return (preprocess(images[i : i + batch_size], **prep) for i in range(0, len(images), batch_size))


def fit_score_arrays(
    section: Mapping[str, Any],
    train_images: np.ndarray,
    test_images: Sequence[np.ndarray],
    seed: int,
    weights: PathLike | None = None,
    device: str = "auto",
) -> tuple[KNNMethod, list[np.ndarray]]:
    """Fit on uint8 images `train_images`; image scores of each array in `test_images` (same order)."""
    prep, bs = preprocess_settings(section), int(section["batch_size"])
    model = build(section, seed, weights, device)
    model.fit(array_batches(train_images, bs, prep))
    scores = [torch.cat([model.predict(x)[0] for x in array_batches(t, bs, prep)]).numpy() for t in test_images]
    return model, scores
