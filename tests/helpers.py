"""What many tests share: the checkout's paths and complete config sections (schema defaults + overrides)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from anoloc.config import fill_defaults

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FL_DATASET = SHARED / "data" / "fl_dataset"


def schema(experiment: str) -> dict[str, Any]:
    """The JSON schema of one experiment's config section."""
    return yaml.safe_load((ROOT / "config" / "schema" / f"{experiment}.schema.yaml").read_text())


def section(experiment: str, *path: str, **overrides: Any) -> dict[str, Any]:
    """A complete config (sub)section, as the workflow passes it: the schema defaults of `experiment.path…`,
    updated with `overrides` (the library reads every key, it supplies no default of its own)."""
    sub = schema(experiment)
    for key in path:
        sub = sub["properties"][key]
    base = copy.deepcopy(sub.get("default", {}))
    return _fill_objects(fill_defaults({**base, **overrides}, sub), sub)


def _fill_objects(cfg: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """Also create the nested objects that have no default of their own but defaults for all their keys."""
    for key, prop in sub.get("properties", {}).items():
        if key not in cfg and prop.get("type") == "object" and "properties" in prop:
            inner = fill_defaults({}, prop)
            if set(inner) == set(prop["properties"]):
                cfg[key] = inner
        if isinstance(cfg.get(key), dict):
            _fill_objects(cfg[key], prop)
    return cfg


def rule_blocks() -> list[tuple[Path, str, str]]:
    """(rules file, rule name, rule text) of every rule in rules/*.smk, also those defined inside an `if` block."""
    import re

    out = []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m[1], m[2]) for m in re.finditer(r"^( *)rule (\w+):", text, flags=re.M)]
        for i, (start, indent, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            block = text[start:end]
            # the block ends where the indentation returns to the rule's own level (or less)
            lines = block.splitlines()
            body = [lines[0]]
            for line in lines[1:]:
                if line.strip() and len(line) - len(line.lstrip()) <= len(indent):
                    break
                body.append(line)
            out.append((smk, name, "\n".join(body)))
    return out


def tiny_mnist_workflow(work: Path, data_seed: int = 0, claims: bool = False, **mnist: Any) -> Path:
    """A working folder running only the sample-wise experiment on a tiny random IDX dataset (600 + 200 images
    of 28², classes 0–9 in turn): `config/config.yaml` is the demo config with the other experiments off (the
    claims ledger too unless `claims`) and the `mnist` section updated with `mnist` (nested dicts merged one level)."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for exp in ("brain", "cells", "mvtec", "matrix", "claims"):
        if exp in cfg and not (exp == "claims" and claims):
            cfg[exp] = {**cfg[exp], "enabled": False}
    write_tiny_idx(work / "idx", data_seed)
    cfg["mnist"].update(
        datasets={"fashion_mnist": {"source": "idx", "path": str(work / "idx")}},
        held_out_classes=[0, 1],
        seeds=[5],
        sweep={"log_c": [1.0]},
        sweep_classes=[0],
    )
    cfg["mnist"]["model"]["hidden"] = 16
    cfg["mnist"]["train"].update(epochs=2, batch_size=50)
    for key, value in mnist.items():
        cfg["mnist"][key] = {**cfg["mnist"][key], **value} if isinstance(value, dict) else value
    (work / "config").mkdir(parents=True, exist_ok=True)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return work


def write_tiny_idx(folder: Path, seed: int) -> None:
    """Four IDX files of random images (600 train, 200 test, labels 0–9 in turn) into `folder`."""
    import numpy as np

    from anoloc.data import mnist

    rng = np.random.default_rng(seed)
    data = mnist.MnistData(
        x_train=rng.integers(0, 256, (600, 28, 28), dtype=np.uint8),
        y_train=np.arange(600) % 10,
        x_test=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        y_test=np.arange(200) % 10,
    )
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in mnist.IDX_FILES.items():
        mnist.write_idx(getattr(data, key), folder / f"{stem}.gz")
