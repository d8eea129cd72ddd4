"""Config helpers (pure Python, used by the Snakefile and the layouts): schema defaults, one-at-a-time sweeps.

`snakemake.utils.validate` checks the whole config, but fills `default`s only from the top-level schema
file, not from the per-experiment schemas it reaches through `$ref`. `apply_schema_defaults` completes
every section from its own schema, so e.g. `brain: {enabled: false}` is a complete section.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, Sequence
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


def one_at_a_time(
    defaults: Mapping[str, Any], sweep: Mapping[str, Sequence[Any]], sweepable: Sequence[str], key: str
) -> list[dict[str, Any]]:
    """The default hyperparameters plus one-parameter-at-a-time variants around them (deduplicated, in order).

    `sweep` maps a parameter of `sweepable` to the values tried while the others stay at `defaults`; `key` names the
    config section in errors. Each value keeps the type of its default.
    """
    from anoloc.utils import AnolocError

    unknown = set(sweep) - set(sweepable)
    if unknown:
        raise AnolocError(f"{key}.sweep: cannot sweep {sorted(unknown)}; sweepable: {tuple(sweepable)}")
    base = {p: defaults[p] for p in sweepable}
    out = [base]
    for p, values in sweep.items():
        for v in values:
            cand = {**base, p: type(base[p])(v)}
            if cand not in out:
                out.append(cand)
    return out
