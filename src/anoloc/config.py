"""Config schema helpers (pure Python, used by the Snakefile).

`snakemake.utils.validate` checks the whole config, but fills `default`s only from the top-level schema
file, not from the per-experiment schemas it reaches through `$ref`. `apply_schema_defaults` completes
every section from its own schema, so e.g. `brain: {enabled: false}` is a complete section.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from anoloc.utils import PathLike


def fill_defaults(section: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `section` with every missing key set to its schema `default`, recursively."""
    out = copy.deepcopy(dict(section))
    for key, sub in schema.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict) and "properties" in sub:
            out[key] = fill_defaults(out[key], sub)
    return out


def apply_schema_defaults(config: MutableMapping[str, Any], schema_path: PathLike) -> None:
    """Fill the defaults of the top-level schema and of every `$ref`'d section schema into `config`."""
    schema_path = Path(schema_path)
    top = yaml.safe_load(schema_path.read_text())
    for key, sub in top.get("properties", {}).items():
        if "$ref" in sub:
            sub = yaml.safe_load((schema_path.parent / sub["$ref"]).read_text())
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        elif isinstance(config.get(key), dict):
            config[key] = fill_defaults(config[key], sub)
