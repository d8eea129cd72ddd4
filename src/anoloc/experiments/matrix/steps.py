"""Steps of the matrix's own jobs: read a dataset's normal training and test images, adapt them to a method, fit,
score, and write one matrix score file (the cells that coincide with a paper experiment are that experiment's jobs).

Every dataset is read from the paper experiment's prepared files — (Fashion)MNIST `resources/mnist/<dataset>.npz`,
the brain's preprocessed HCP training / BraTS subjects, the cells' `cells.npz`, the extracted MVTec-format folder —
into a `Split`: unit images (N, C, H, W) at the dataset's evaluation geometry (`anoloc.adapters`), the test labels,
the bootstrap groups and, where the dataset has them, the masks on that grid. A method's maps are brought back to
that grid before they are saved, so every method is evaluated on the same pixels.

A matrix score file (.npz) holds `label` (N,), `group` (N,), `mask` (N, H, W) where the dataset has masks,
`tumour_voxels` (N,) for the brain (its slice rule), `score__<method>` (N,) and `map__<method>` (N, H, W) of each
method the job scored, `adapter` (what ran) and `params` (the method's settings, JSON).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from anoloc import adapters
from anoloc.adapters import Adapter
from anoloc.baselines import AnomalyMethod, build_baseline
from anoloc.data import cells as cells_data
from anoloc.data import mnist as mnist_data
from anoloc.data import mvtec as mvtec_data
from anoloc.data.brain.preprocess import load_slices
from anoloc.data.mvtec import class_root
from anoloc.experiments.brain.layout import BrainRun
from anoloc.experiments.brain.steps import score_slices, train_conv_vae
from anoloc.experiments.matrix.layout import held_out_of
from anoloc.knn.pipeline import build
from anoloc.models import RunFiles, load_model
from anoloc.scores.names import KNN_METHODS, PIXEL_SCORES, SAMPLE_SCORES
from anoloc.utils import AnolocError, PathLike, derive_seed, seed_everything

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- datasets
@dataclass
class Split:
    """A dataset subset as the matrix evaluates it: normal training images and labelled test images (unit
    intensities, (N, C, H, W) float32, evaluation geometry), bootstrap groups, masks (or None), extras."""

    train: np.ndarray
    test: np.ndarray
    label: np.ndarray
    group: np.ndarray
    mask: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def load_split(dataset: str, subset: str, files: Mapping[str, Any], section: Mapping[str, Any]) -> Split:
    """The `subset` of `dataset` from its prepared files (`files`: the matrix job's inputs)."""
    if dataset in ("mnist", "fashion_mnist"):
        data = mnist_data.load_prepared(files["data"])
        k = held_out_of(subset)
        return Split(
            train=adapters.to_unit(data.x_train[data.y_train != k]),
            test=adapters.to_unit(data.x_test),
            label=(data.y_test == k).astype(np.int64),
            group=np.arange(len(data.y_test)),
        )
    if dataset == "brain":
        clip = float(section["clip"])
        tr, te = load_slices(files["train"]), load_slices(files["test"])
        return Split(
            train=adapters.to_unit(tr.image, (-clip, clip)),
            test=adapters.to_unit(te.image, (-clip, clip)),
            label=(te.tumour_voxels > 0).astype(np.int64),
            group=te.subject,
            mask=te.label.astype(bool),
            extra={"tumour_voxels": te.tumour_voxels},
        )
    if dataset == "cells":
        data = cells_data.load_prepared(files["data"])
        test = [data[s] for s in cells_data.TEST_SPLITS]
        return Split(
            train=adapters.to_unit(data["healthy_train"].images),
            test=adapters.to_unit(np.concatenate([t.images for t in test])),
            label=np.concatenate(
                [
                    np.full(len(t.images), cells_data.LABELS[s])
                    for s, t in zip(cells_data.TEST_SPLITS, test, strict=True)
                ]
            ),
            group=np.concatenate(
                [[f"{s}/{n}" for n in t.names] for s, t in zip(cells_data.TEST_SPLITS, test, strict=True)]
            ),
        )
    if dataset == "mvtec":
        return _mvtec_split(class_root(files["data"]), subset, section["preprocess"])
    raise AnolocError(f"unknown matrix dataset {dataset!r}")


def _mvtec_split(root: PathLike, category: str, prep: Mapping[str, Any]) -> Split:
    """One MVTec category at table5's geometry (`anoloc.adapters.resize_short_crop`), images read one at a time."""
    geo = {"resize": int(prep["resize"]), "crop": int(prep["crop"]), "pre_resize": prep["pre_resize"]}
    train, test = mvtec_data.class_split(root, category)

    def image(path: PathLike) -> np.ndarray:
        x = adapters.to_unit(mvtec_data.stack_rgb([mvtec_data.read_image(path)]))
        return adapters.resize_short_crop(x, **geo).numpy()

    x_train = np.concatenate([image(p) for p in train])
    x_test, masks = [], []
    for t in test:
        raw = mvtec_data.read_image(t.path)
        x_test.append(adapters.resize_short_crop(adapters.to_unit(mvtec_data.stack_rgb([raw])), **geo).numpy())
        masks.append(
            adapters.resize_short_crop_masks(mvtec_data.read_mask(t.mask_path, raw.shape[:2])[None], **geo).numpy()
        )
    return Split(
        train=x_train,
        test=np.concatenate(x_test),
        label=np.array([t.label for t in test], dtype=np.int64),
        group=np.array([t.name for t in test]),
        mask=np.concatenate(masks),
    )


def subsample(n: int, size: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of `size` of `n` items (sorted; all when `size` is None or ≥ n)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(size), replace=False))


# ---------------------------------------------------------------------------------- kNN and baselines
def _batches(x: np.ndarray, adapter: Adapter, stats: Any, batch_size: int) -> Iterator[torch.Tensor]:
    for i in range(0, len(x), batch_size):
        yield adapters.adapt(adapter, x[i : i + batch_size], stats)


def build_method(
    method: str, section: Mapping[str, Any], seed: int, weights: PathLike | None, device: str
) -> AnomalyMethod:
    """A kNN method on its frozen backbone (`anoloc.knn.pipeline`) or a baseline (`anoloc.baselines`), seeded."""
    seed_everything(seed)
    if method in KNN_METHODS:
        return build(section["knn"], seed, weights, device)
    return build_baseline(method, section["params"])


def fit_score(
    method: AnomalyMethod, split: Split, adapter: Adapter, batch_size: int, n_train: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """Fit on (a seeded subset of `n_train` of) the normal training images, score the test images; maps at the
    split's mask grid (or none when it has no masks). Returns scores, maps, seconds and the training count."""
    idx = subsample(len(split.train), n_train, seed)
    train = split.train[idx]
    stats = adapters.fit_stats(adapter, train)
    t0 = time.perf_counter()
    method.fit(_batches(train, adapter, stats, batch_size))
    fit_s = time.perf_counter() - t0
    scores, maps = [], []
    t0 = time.perf_counter()
    for x in _batches(split.test, adapter, stats, batch_size):
        s, m = method.predict(x)
        scores.append(s.numpy())
        if split.mask is not None:
            maps.append(adapters.maps_to(m, split.mask.shape[-2:]).numpy())
    score_s = time.perf_counter() - t0
    return {
        "score": np.concatenate(scores).astype(np.float64),
        "map": np.concatenate(maps).astype(np.float32) if maps else None,
        "fit_seconds": fit_s,
        "score_seconds": score_s,
        "n_train": len(idx),
    }


def score(
    files: Mapping[str, Any],
    subset: str,
    seed: int,
    section: Mapping[str, Any],
    weights: PathLike | None = None,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """One matrix job: the section's method (a kNN method or a baseline) on one dataset subset → score arrays."""
    dataset, method = section["dataset"], section["method"]
    split = load_split(dataset, subset, files, section)
    adapter = Adapter(**section["adapter"])
    model = build_method(method, section, seed, weights, device)
    n_train = section["options"].get("knn_n_train") if method in KNN_METHODS else None
    out = fit_score(model, split, adapter, int(section["batch_size"]), n_train, derive_seed(seed, "matrix", subset))
    log.info(
        "%s on %s/%s seed %d: fit %.1fs on %d images, scored %d in %.1fs (%s)",
        *(method, dataset, subset, seed, out["fit_seconds"], out["n_train"], len(split.test)),
        *(out["score_seconds"], section["description"]),
    )
    scores = {f"score__{method}": out["score"]}
    if out["map"] is not None:
        scores[f"map__{method}"] = out["map"]
    return _arrays(split, section, scores, {**model.describe(), "n_train": out["n_train"]})


def _arrays(
    split: Split, section: Mapping[str, Any], scores: Mapping[str, np.ndarray], params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    out = {"label": split.label, "group": np.asarray(split.group).astype(str), **split.extra, **scores}
    if split.mask is not None:
        out["mask"] = split.mask
    out["adapter"] = np.array(section["description"])
    out["params"] = np.array(json.dumps(params, sort_keys=True, default=str))
    return out


# ------------------------------------------------------------------------------------------ conv VAE
def _vae_images(split_images: np.ndarray, adapter: Adapter, stats: Any) -> np.ndarray:
    """Unit images → the conv VAE's (N, S, S) float32 inputs (gray, S², z-scored, clipped)."""
    return adapters.adapt(adapter, split_images, stats)[:, 0].numpy()


def _brain_run(section: Mapping[str, Any], seed: int) -> BrainRun:
    model = section["brain"]["model"]
    return BrainRun(int(model["z"]), float(model["log_c"]), 1.0, int(seed))


def train_vae(
    files: Mapping[str, Any],
    subset: str,
    seed: int,
    section: Mapping[str, Any],
    run_files: RunFiles,
    device: str = "auto",
) -> None:
    """The brain's conv VAE (its model and training settings, code variant `corrected`) on one dataset subset's
    normal training images: a seeded `brain.train.val_fraction` of them validates (early stopping)."""
    dataset = section["dataset"]
    split = load_split(dataset, subset, files, section)
    adapter = Adapter(**section["adapter"])
    stats = adapters.fit_stats(adapter, split.train)
    x = _vae_images(split.train, adapter, stats)
    train_cfg = section["brain"]["train"]
    perm = np.random.default_rng(derive_seed(int(train_cfg["split_seed"]), "matrix", dataset, subset)).permutation(
        len(x)
    )
    n_val = max(1, round(float(train_cfg["val_fraction"]) * len(x)))
    val, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    meta = {
        "dataset": dataset,
        "subset": subset,
        "adapter": section["description"],
        "n_train": len(tr),
        "n_val": len(val),
    }
    train_conv_vae(
        x[tr], x[val], _brain_run(section, seed), section["brain"]["model"], train_cfg, float(adapter.clip), run_files,
        device, meta=meta, desc=f"matrix conv VAE {dataset}/{subset} seed {seed}",
    )  # fmt: skip


def score_vae(
    model_path: PathLike, files: Mapping[str, Any], subset: str, section: Mapping[str, Any], device: str = "auto"
) -> dict[str, np.ndarray]:
    """The conv VAE's three image scores (KL, Rec, ELBO of the whole image) and five maps on the test images."""
    dataset = section["dataset"]
    split = load_split(dataset, subset, files, section)
    adapter = Adapter(**section["adapter"])
    stats = adapters.fit_stats(adapter, split.train)  # the same statistics as in training (deterministic)
    model, _ = load_model(model_path)
    sc = section["brain"]["score"]
    s = score_slices(
        model, _vae_images(split.test, adapter, stats), int(sc["batch_size"]), str(sc["combi_norm"]), device=device
    )
    scores = {f"score__vae_{k}": s[f"slice_{k}"] for k in SAMPLE_SCORES}
    if split.mask is not None:
        size = split.mask.shape[-2:]
        scores |= {f"map__vae_{k}": adapters.maps_to(s[k], size).numpy() for k in PIXEL_SCORES}
    return _arrays(split, section, scores, {"model": "conv_vae", "combi_norm": sc["combi_norm"]})
