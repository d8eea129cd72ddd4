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
