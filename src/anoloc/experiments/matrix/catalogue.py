"""What each method of the matrix needs and each dataset offers, and which cells exist (torch-free).

A *cell* of the matrix is (method, dataset, level). The **level** is the dataset's sample unit (`image` for
(Fashion)MNIST and MVTec, `slice` for the brain, `cell` for the cells) or `pixel` (datasets with masks). A cell
exists when the method has an output at that level (an image score, or a pixel map) and the dataset offers that
level; otherwise it is *n/a* with a reason. An existing cell is computed by one of:

- `paper`: a paper experiment already scores it — its saved score files are read (the same jobs, not copies):
  FC-VAE KL / Rec / ELBO on (Fashion)MNIST (table1), the brain conv VAE's slice scores and pixel maps on the brain
  (table2), SUPN / diag / L2 on the cells (table4) and the kNN rows of table4, SPADE / PaDiM / PatchCore on MVTec
  (table5);
- `matrix`: a new job of the matrix experiment — the kNN methods on (Fashion)MNIST and the brain, the baselines
  everywhere, the brain's conv VAE (its training and scoring functions) on the cells and MVTec;
- `n/a`: a method that cannot run there as published (the cell VAEs need a cell mask and 128×128 crops).

Declarations: `MethodSpec` (the input a method needs — channels, intensities, normal-only training data — and
the levels it outputs) and `DatasetSpec` (images, labels, masks, the bootstrap groups, its subsets). The adapter
of a matrix job (`anoloc.adapters.Adapter`) follows from both and the config (`adapter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anoloc.adapters import Adapter
from anoloc.scores.names import CELL_VAE_METHODS, KNN_METHODS, PIXEL_SCORES, SAMPLE_SCORES, VAE_METHODS

PIXEL = "pixel"


@dataclass(frozen=True)
class MethodSpec:
    """What a method needs and outputs: input `channels` (0 = as the dataset offers), `resolution` and intensity
    `norm` (see `adapter`); every method trains on normal data only (`normal_only`); its outputs: an `image`
    (slice, cell) score and/or a `pixel` map; `seeded`: its result depends on the seed (the deterministic baselines
    run once)."""

    name: str
    family: str  # vae | cell_vae | knn | baseline
    channels: int
    resolution: str
    norm: str
    image: bool
    pixel: bool
    seeded: bool
    normal_only: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset offers: images with `channels` channels (size: `native`), labels at its sample `unit`,
    pixel `masks` or not, the `groups` the bootstrap resamples, and its subsets (held-out classes, categories, or
    one subset `all`); `owner`: the paper experiment whose prepared data (and scores) it shares."""

    name: str
    unit: str  # image | slice | cell
    channels: int
    masks: bool
    groups: str  # image | patient | cell
    subsets: str  # held_out_class | category | all
    owner: str  # the paper experiment whose data and scores it shares


def _vae(name: str) -> MethodSpec:
    score = name.removeprefix("vae_")
    # the FC VAE of (Fashion)MNIST: 28² in [0, 1]; the brain's conv VAE: brain.preprocess.image_size², z-scored
    return MethodSpec(
        name, "vae", 1, "28 (FC) | image_size (conv)", "[0, 1] (FC) | zscore, clip (conv)",
        score in SAMPLE_SCORES, score in PIXEL_SCORES, True,
    )  # fmt: skip


METHODS: dict[str, MethodSpec] = {
    **{m: _vae(m) for m in VAE_METHODS},
    **{m: MethodSpec(m, "cell_vae", 1, "128", "per-image min-max", True, False, True) for m in CELL_VAE_METHODS},
    **{m: MethodSpec(m, "knn", 3, "knn_size", "imagenet", True, True, True) for m in KNN_METHODS},
    "zscore": MethodSpec("zscore", "baseline", 1, "native", "unit", True, True, False),
    "nearest": MethodSpec("nearest", "baseline", 0, "native", "unit", True, True, False),
}

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "image", 1, False, "image", "held_out_class", "mnist"),
    "fashion_mnist": DatasetSpec("fashion_mnist", "image", 1, False, "image", "held_out_class", "mnist"),
    "brain": DatasetSpec("brain", "slice", 1, True, "patient", "all", "brain"),
    "cells": DatasetSpec("cells", "cell", 1, False, "cell", "all", "cells"),
    "mvtec": DatasetSpec("mvtec", "image", 3, True, "image", "category", "mvtec"),
}
NATIVE_SIZE = {"mnist": 28, "fashion_mnist": 28, "cells": 128}  # brain: preprocess.image_size, mvtec: crop


@dataclass(frozen=True)
class Plan:
    """How a (method, dataset) pair is computed: `kind` paper | matrix | n/a, the job (`conv_vae` or the method
    for matrix jobs; the paper experiment otherwise) and, for n/a, the reason."""

    kind: str
    job: str = ""
    reason: str = ""


def plan(method: str, dataset: str) -> Plan:
    """Which jobs compute `method` on `dataset` (levels aside; see `levels`)."""
    spec, ds = METHODS[method], DATASETS[dataset]
    if spec.family == "vae":
        if ds.owner == "mnist":
            return Plan("paper", "mnist") if spec.image else Plan("n/a", reason="a pixel map only; no masks")
        if dataset == "brain":
            return Plan("paper", "brain")
        if not spec.image and not ds.masks:
            return Plan("n/a", reason="a pixel map only; no masks")
        return Plan("matrix", "conv_vae")
    if spec.family == "cell_vae":
        if dataset == "cells":
            return Plan("paper", "cells")
        return Plan("n/a", reason="scores sum over a cell mask of a 128×128 crop; not adapted")
    if spec.family == "knn":
        if dataset in ("cells", "mvtec"):
            return Plan("paper", dataset)
        return Plan("matrix", method)
    return Plan("matrix", method)


def levels(dataset: str) -> list[str]:
    """The dataset's levels: its sample unit, then `pixel` when it has masks."""
    ds = DATASETS[dataset]
    return [ds.unit, PIXEL] if ds.masks else [ds.unit]


def level_status(method: str, dataset: str, level: str) -> str:
    """'' when the cell exists, else why it is n/a."""
    p = plan(method, dataset)
    if p.kind == "n/a":
        return p.reason
    spec = METHODS[method]
    if level == PIXEL and not spec.pixel:
        return "no pixel map"
    if level != PIXEL and not spec.image:
        return f"no {DATASETS[dataset].unit} score (a pixel map only)"
    return ""


# ----------------------------------------------------------------------------------------- adapters
def native(dataset: str, config: Mapping[str, Any]) -> tuple[int, int, str]:
    """(channels, side, description of the dataset's own geometry) of the images a dataset reader hands over."""
    if dataset == "brain":
        b = config["brain"]["preprocess"]
        return 1, int(b["image_size"]), ""
    if dataset == "mvtec":
        p = config["mvtec"]["preprocess"]
        pre = f"{p['pre_resize']}² bicubic, " if p["pre_resize"] else ""
        return 3, int(p["crop"]), f"{pre}short side→{p['resize']} bicubic, crop {p['crop']}"
    return 1, NATIVE_SIZE[dataset], ""


def adapter(job: str, dataset: str, config: Mapping[str, Any]) -> Adapter:
    """The adapter of a matrix job (a kNN method, a baseline, or `conv_vae`) on `dataset`."""
    channels, _, _ = native(dataset, config)
    if job == "conv_vae":
        pre = config["brain"]["preprocess"]
        return Adapter(1, int(pre["image_size"]), "zscore", float(pre["clip"]))
    if job in KNN_METHODS:
        size = config["matrix"]["datasets"][dataset].get("knn_size")
        return Adapter(3, int(size) if size else None, "imagenet")
    if job == "zscore":
        return Adapter(1, None, "unit")
    if job == "nearest":
        return Adapter(channels, None, "unit")
    raise KeyError(f"{job} is not a matrix job")


def job_description(job: str, dataset: str, config: Mapping[str, Any]) -> str:
    """What a matrix job feeds its method, e.g. 'gray→rgb, 28→32 bicubic, ImageNet norm'."""
    channels, size, geometry = native(dataset, config)
    text = adapter(job, dataset, config).describe(channels, size)
    return f"{geometry}; {text}" if geometry else text


def describe(method: str, dataset: str, config: Mapping[str, Any]) -> str:
    """What a cell ran (the table's `adapter` column); '' for an n/a cell."""
    p = plan(method, dataset)
    if p.kind == "matrix":
        return job_description(p.job, dataset, config)
    if p.kind == "n/a":
        return ""
    spec = METHODS[method]
    if spec.family == "vae" and DATASETS[dataset].owner == "mnist":
        return "gray, 28 (native), [0, 1]; FC VAE"
    if spec.family == "vae":
        pre = config["brain"]["preprocess"]
        return f"gray, {pre['image_size']} (native), z-score per volume, clip ±{pre['clip']:g}; conv VAE"
    if spec.family == "cell_vae":
        return "gray, 128 (native), per-image min–max → [−1, 1]; cell VAE"
    p = config["mvtec"]["preprocess"]
    pre = f"{p['pre_resize']}² bicubic, " if p["pre_resize"] else ""
    text = f"{pre}short side→{p['resize']} bicubic, crop {p['crop']}, ImageNet norm"
    return f"gray→rgb, {text}" if dataset == "cells" else f"rgb, {text}"
