"""SPADE / PaDiM / PatchCore on MVTec AD (table5, fig6) and on the fluorescent cells (kNN rows of table4).

Spec supn-cells §5.4–§6. Steps: get the MVTec-format archive (official download or offline texture stand-in) →
extract + validate → per (class, method): fit on `train/good`, score `test/*` → metrics JSON, per-image scores,
example maps → table5 (with the published reference numbers) and fig6. On the cells: fit on the first `n_train`
sorted healthy training crops, score healthy_test vs infected → one score CSV per method and seed.

Importing this module does not import torch (the table rule runs without it); the scoring functions do.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from anoloc.data import mvtec as mvtec_data
from anoloc.metrics import aupro, auroc
from anoloc.tables import write_csv
from anoloc.utils import AnolocError, PathLike, atomic_path, save_json

if TYPE_CHECKING:
    import torch

    from anoloc.knn import KNNMethod

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["name", "defect", "label", "score", "backbone"]
CELL_COLUMNS = ["split", "name", "label", "score", "backbone"]
TABLE5_COLUMNS = [
    "class",
    "method",
    "backbone",
    "image_auroc",
    "pixel_auroc",
    "aupro",
    "ref_image_auroc_paper",
    "ref_image_auroc_repo",
    "ref_pixel_auroc_paper",
    "ref_pixel_auroc_repo",
    "ref_aupro_paper",
    "n_train",
    "n_test_good",
    "n_test_anomalous",
    "fit_seconds",
    "predict_seconds",
]


# ------------------------------------------------------------------------------------------ data
def generate(archive: PathLike, dataset_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Write the offline MVTec-format stand-in (texture classes) as a .tar.xz."""
    synth = dict(dataset_cfg.get("synthetic", {}))
    return mvtec_data.make_synthetic_archive(archive, classes=list(dataset_cfg["classes"]), **synth)


def download(archive: PathLike, dataset_cfg: Mapping[str, Any]) -> Path:
    return mvtec_data.download_archive(dataset_cfg["url"], archive, dataset_cfg.get("sha256"))


def extract(archive: PathLike, data_dir: PathLike, layout_json: PathLike, classes: Sequence[str]) -> dict[str, Any]:
    """Safely extract, validate the configured classes, write the layout JSON (class root + counts)."""
    root, counts = mvtec_data.extract_archive(archive, data_dir, classes)
    layout = {"root": str(root), "archive": str(archive), "classes": counts}
    save_json(layout, layout_json)
    log.info("extracted %s -> %s (%d classes)", archive, root, len(counts))
    return layout


def class_root(layout_json: PathLike) -> Path:
    return Path(json.loads(Path(layout_json).read_text())["root"])


# --------------------------------------------------------------------------------------- methods
def method_params(cfg: Mapping[str, Any], method: str, seed: int) -> dict[str, Any]:
    """Constructor keywords of `method` from its config section (+ the seed where it is used)."""
    params = dict(cfg.get(method, {}))
    if method in ("padim", "patchcore"):
        params["seed"] = int(seed)
    return params


def build(
    cfg: Mapping[str, Any], method: str, seed: int, weights: PathLike | None = None, device: str = "auto"
) -> KNNMethod:
    """Backbone (frozen, on `device`) + method, from the `mvtec` config section."""
    from anoloc.features import FeatureExtractor
    from anoloc.knn import STAGES_NEEDED, build_method
    from anoloc.utils import resolve_device, seed_everything

    seed_everything(seed)
    extractor = FeatureExtractor(cfg["backbone"]["name"], STAGES_NEEDED[method], weights_path=weights)
    extractor = extractor.to(resolve_device(device))
    return build_method(method, extractor, method_params(cfg, method, seed))


def _prep(cfg: Mapping[str, Any]) -> dict[str, Any]:
    p = cfg["preprocess"]
    return {"resize": int(p["resize"]), "crop": int(p["crop"]), "pre_resize": p.get("pre_resize")}


def _image_batches(paths: Sequence[Path], batch_size: int, prep: Mapping[str, Any]) -> Iterator[torch.Tensor]:
    """Stream images from disk, preprocessed, `batch_size` at a time (nothing else stays in memory)."""
    import torch

    from anoloc.knn import preprocess

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


def evaluate_class(
    root: PathLike,
    cls: str,
    method: str,
    cfg: Mapping[str, Any],
    weights: PathLike | None = None,
    device: str = "auto",
) -> ClassResult:
    """Fit `method` on `<root>/<cls>/train/good`, score every test image, compute image/pixel AUROC (+ AUPRO)."""
    import torch

    from anoloc.knn import preprocess_masks
    from anoloc.knn.base import denormalise

    train, test = mvtec_data.class_split(root, cls)
    prep, bs, seed = _prep(cfg), int(cfg["batch_size"]), int(cfg.get("seed", 0))
    model = build(cfg, method, seed, weights, device)
    t0 = time.perf_counter()
    model.fit(_image_batches(train, bs, prep))
    fit_s = time.perf_counter() - t0

    chosen = select_examples(test, int(cfg.get("figure", {}).get("n_examples", 2)))
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
        "aupro": aupro(masks_a, maps_a) if cfg.get("aupro", True) else float("nan"),
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
    return ClassResult(df, metrics, examples)


def preprocess(images: np.ndarray, **prep: Any) -> torch.Tensor:
    from anoloc.knn import preprocess as _pre

    return _pre(images, **prep)


def save_npz(arrays: Mapping[str, np.ndarray], path: PathLike) -> None:
    """Compressed .npz written atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        tmp.write_bytes(buf.getvalue())


def write_class_result(result: ClassResult, scores_csv: PathLike, metrics_json: PathLike, examples_npz: PathLike):
    write_csv(result.scores, scores_csv)
    save_json(result.metrics, metrics_json)
    save_npz(result.examples, examples_npz)


# ---------------------------------------------------------------------------------------- table5
def load_reference(path: PathLike) -> pd.DataFrame:
    """Published numbers (percent in the file) as fractions, one row per (class, method)."""
    ref = pd.read_csv(path, comment="#")
    value_cols = [c for c in ref.columns if c not in ("class", "method")]
    ref[value_cols] = ref[value_cols].astype(float) / 100.0
    return ref.rename(columns={c: f"ref_{c}" for c in value_cols})


def table5(metrics_files: Sequence[PathLike], reference: PathLike) -> pd.DataFrame:
    """One row per (class, method) plus an `average` row per method (mean over its classes), with the
    published reference numbers of the real MVTec classes (empty for the offline stand-in's classes; the
    reference average is given only when all 15 MVTec classes were run)."""
    rows = [json.loads(Path(f).read_text()) for f in metrics_files]
    if not rows:
        raise AnolocError("table5: no metrics files given")
    df = pd.DataFrame(rows)
    metric_cols = ["image_auroc", "pixel_auroc", "aupro", "fit_seconds", "predict_seconds"]
    how = {c: "mean" for c in metric_cols} | {"backbone": "first", "class": "nunique"}
    how |= {c: "sum" for c in ("n_train", "n_test_good", "n_test_anomalous")}
    avg = df.groupby("method", sort=False).agg(how)
    all_real = {str(c) for c in df["class"]} >= set(mvtec_data.MVTEC_CLASSES)
    avg = avg.rename(columns={"class": "n_classes"}).reset_index()
    avg["class"] = "average" if all_real else "average (" + avg["n_classes"].astype(str) + " classes)"
    df = pd.concat([df, avg.drop(columns="n_classes")], ignore_index=True)
    ref = load_reference(reference)
    out = df.merge(ref, on=["class", "method"], how="left")
    order = {m: i for i, m in enumerate(("spade", "padim", "patchcore"))}
    out["_avg"] = out["class"].str.startswith("average")
    out["_m"] = out["method"].map(order)
    out = out.sort_values(["_avg", "class", "_m"]).drop(columns=["_avg", "_m"])
    return out[TABLE5_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------------- cells
def score_cell_arrays(
    train_images: np.ndarray,
    test_sets: Mapping[str, tuple[np.ndarray, Sequence[str]]],
    method: str,
    cfg: Mapping[str, Any],
    seed: int,
    weights: PathLike | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """Fit on uint8 crops `train_images` (N, H, W); score each test set {split: (images, names)}.

    Label 1 for the `infected` split, 0 otherwise. Columns: split, name, label, score, backbone.
    """
    import torch

    prep, bs = _prep(cfg), int(cfg["batch_size"])
    model = build(cfg, method, seed, weights, device)
    model.fit(preprocess(train_images[i : i + bs], **prep) for i in range(0, len(train_images), bs))
    frames = []
    for split, (images, names) in test_sets.items():
        batches = (preprocess(images[i : i + bs], **prep) for i in range(0, len(images), bs))
        scores = torch.cat([model.predict(x)[0] for x in batches])
        frames.append(
            pd.DataFrame(
                {
                    "split": split,
                    "name": list(names),
                    "label": int(split == "infected"),
                    "score": scores.numpy(),
                    "backbone": model.extractor.label,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)[CELL_COLUMNS]
    auc = auroc(df["label"], df["score"])
    log.info("cells %s seed %d: AUROC %.3f (%d train crops)", method, seed, auc, len(train_images))
    return df


def score_cells(
    prepared: PathLike,
    method: str,
    cfg: Mapping[str, Any],
    seed: int,
    n_train: int,
    weights: PathLike | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """kNN baseline on the prepared cell data (`anoloc.data.cells.load_prepared`): fit on the first `n_train`
    healthy_train crops in name order (the SUPN repo used 100), score healthy_test (0) and infected (1)."""
    from anoloc.data.cells import load_prepared

    splits = load_prepared(prepared)
    train = splits["healthy_train"]
    order = np.argsort(np.asarray(train.names), kind="stable")[: int(n_train)]
    tests = {s: (splits[s].images, list(splits[s].names)) for s in ("healthy_test", "infected")}
    return score_cell_arrays(np.asarray(train.images)[order], tests, method, cfg, seed, weights, device)
