"""Steps of the MVTec experiment (spec supn-cells §5.4–§6): SPADE / PaDiM / PatchCore on MVTec AD.

Get the MVTec-format archive (official download or the offline texture stand-in) → extract + validate → per
(category, method): fit on `train/good`, score `test/*` → metrics JSON, per-image scores and example maps. table5 is
built from the metrics by `anoloc.experiments.mvtec.tables`; the same methods on the cells are a step of the cells
experiment (`anoloc.experiments.cells.steps.score_knn`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from anoloc.data import mvtec as mvtec_data
from anoloc.io import save_json, save_npz, write_csv
from anoloc.knn import preprocess, preprocess_masks
from anoloc.knn.base import denormalise
from anoloc.knn.pipeline import build, preprocess_settings
from anoloc.metrics import aupro, auroc
from anoloc.utils import PathLike

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["name", "defect", "label", "score", "backbone"]


# --------------------------------------------------------------------------------------- scoring
def _image_batches(paths: Sequence[Path], batch_size: int, prep: Mapping[str, Any]) -> Iterator[torch.Tensor]:
    """Stream images from disk, preprocessed, `batch_size` at a time (nothing else stays in memory)."""
    for i in range(0, len(paths), batch_size):
        yield torch.cat([preprocess(mvtec_data.read_image(p)[None], **prep) for p in paths[i : i + batch_size]])


def select_examples(test: Sequence[mvtec_data.TestImage], n: int) -> list[int]:
    """Indices of `n` anomalous test images, one per defect type in turn (deterministic)."""
    by_defect: dict[str, list[int]] = {}
    for i, t in enumerate(test):
        if t.label:
            by_defect.setdefault(t.defect, []).append(i)
    out: list[int] = []
    rank = 0
    while len(out) < n and any(rank < len(v) for v in by_defect.values()):
        out += [v[rank] for _, v in sorted(by_defect.items()) if rank < len(v)]
        rank += 1
    return out[:n]


@dataclass
class ClassResult:
    scores: pd.DataFrame
    metrics: dict[str, Any]
    examples: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]  # every test map and mask at the evaluation geometry (read by the matrix)


def evaluate_class(
    root: PathLike,
    cls: str,
    knn: Mapping[str, Any],
    seed: int,
    n_examples: int,
    with_aupro: bool = True,
    weights: PathLike | None = None,
    device: str = "auto",
) -> ClassResult:
    """Fit the kNN section's method (`anoloc.knn.pipeline`) on `<root>/<cls>/train/good`, score every test image,
    compute image / pixel AUROC (+ AUPRO); keep `n_examples` anomalous examples for fig6."""
    method = knn["method"]
    train, test = mvtec_data.class_split(root, cls)
    prep, bs = preprocess_settings(knn), int(knn["batch_size"])
    model = build(knn, seed, weights, device)
    t0 = time.perf_counter()
    model.fit(_image_batches(train, bs, prep))
    fit_s = time.perf_counter() - t0

    chosen = select_examples(test, int(n_examples))
    scores, maps, masks, ex_images = [], [], [], {}
    t0 = time.perf_counter()
    for start in range(0, len(test), bs):
        items = test[start : start + bs]
        raw = [mvtec_data.read_image(t.path) for t in items]
        x = torch.cat([preprocess(r[None], **prep) for r in raw])
        s, m = model.predict(x)
        raw_masks = [mvtec_data.read_mask(t.mask_path, r.shape[:2]) for t, r in zip(items, raw, strict=True)]
        masks.append(torch.cat([preprocess_masks(r[None], **prep) for r in raw_masks]).numpy())
        scores.append(s.numpy())
        maps.append(m.numpy())
        for j in range(len(items)):
            if start + j in chosen:
                ex_images[start + j] = denormalise(x[j : j + 1])[0]
    predict_s = time.perf_counter() - t0
    scores_a, maps_a, masks_a = np.concatenate(scores), np.concatenate(maps), np.concatenate(masks)
    labels = np.array([t.label for t in test])
    backbone = model.extractor.label
    metrics = {
        "class": cls,
        "method": method,
        "backbone": backbone,
        "image_auroc": auroc(labels, scores_a),
        "pixel_auroc": auroc(masks_a.ravel(), maps_a.ravel()),
        "aupro": aupro(masks_a, maps_a) if with_aupro else float("nan"),
        "n_train": len(train),
        "n_test_good": int((labels == 0).sum()),
        "n_test_anomalous": int(labels.sum()),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
        "preprocess": prep,
        "params": model.describe(),
    }
    log.info(
        "%s/%s: image AUROC %.3f, pixel AUROC %.3f, AUPRO %.3f (fit %.1fs, predict %.1fs)",
        *(cls, method, metrics["image_auroc"], metrics["pixel_auroc"], metrics["aupro"], fit_s, predict_s),
    )
    df = pd.DataFrame(
        {
            "name": [t.name for t in test],
            "defect": [t.defect for t in test],
            "label": labels,
            "score": scores_a,
            "backbone": backbone,
        }
    )[SCORE_COLUMNS]
    vmin, vmax = np.percentile(maps_a, [1.0, 99.9])
    examples = {
        "images": np.stack([ex_images[i] for i in chosen]) if chosen else np.zeros((0, 1, 1, 3), np.uint8),
        "maps": maps_a[chosen].astype(np.float32),
        "masks": masks_a[chosen],
        "names": np.array([test[i].name for i in chosen]),
        "scores": scores_a[chosen],
        "vmin": np.float32(vmin),
        "vmax": np.float32(vmax),
        "class_name": np.array(cls),
        "method": np.array(method),
        "backbone": np.array(backbone),
    }
    every = {"name": df["name"].to_numpy(dtype=str), "label": labels, "map": maps_a.astype(np.float32), "mask": masks_a}
    return ClassResult(df, metrics, examples, every)


def write_class_result(
    result: ClassResult,
    scores_csv: PathLike,
    metrics_json: PathLike,
    examples_npz: PathLike,
    maps_npz: PathLike | None = None,
):
    """The outputs of one (category, method) scoring job (+ every test map and mask when `maps_npz` is given)."""
    write_csv(result.scores, scores_csv)
    save_json(result.metrics, metrics_json)
    save_npz(examples_npz, result.examples)
    if maps_npz is not None:
        save_npz(maps_npz, result.maps)
