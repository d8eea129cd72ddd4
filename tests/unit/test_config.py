"""Config files against the schema; bad values are rejected with a message naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from tests.helpers import ROOT

SCHEMA = str(ROOT / "config" / "schema.yaml")


def _load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    validate(_load(name), SCHEMA)


def _leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _leaves(v, (*prefix, k))
        else:
            yield (*prefix, k)


def test_paper_config_is_complete():
    """`--configfile config/paper.yaml` is merged over config.yaml, so no demo value may leak through:
    every leaf of the demo config must also be set in the paper config (of enabled experiments)."""
    demo, paper = _load("config.yaml"), _load("paper.yaml")
    paper_leaves = set(_leaves(paper))

    def enabled(section):
        return not isinstance(paper.get(section), dict) or paper[section].get("enabled", True)

    def covered(leaf):
        return any(leaf[:i] in paper_leaves for i in range(1, len(leaf) + 1))

    # the demo's generator settings (`...synthetic...`) are unused when the paper section reads real data
    missing = [
        ".".join(leaf) for leaf in _leaves(demo) if enabled(leaf[0]) and not covered(leaf) and "synthetic" not in leaf
    ]
    assert not missing, f"set these keys in config/paper.yaml too: {missing}"


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("mnist", "train", "epochs"), 0, "epochs"),
        (("mnist", "held_out_classes"), [0, 10], "held_out_classes"),
        (("mnist", "datasets", "mnist", "source"), "ftp", "source"),
        (("mnist", "defaults", "z"), "twenty", "'z'"),
        (("mnist", "sweep", "beta"), [1], "beta"),
        (("device",), "tpu", "device"),
    ],
)
def test_bad_value_is_rejected_naming_the_key(path, value, key):
    cfg = copy.deepcopy(_load("config.yaml"))
    node = cfg
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert key in str(err.value)


def test_idx_source_requires_a_path():
    cfg = copy.deepcopy(_load("config.yaml"))
    cfg["mnist"]["datasets"] = {"fashion_mnist": {"source": "idx"}}
    with pytest.raises(WorkflowError, match="'path' is a required property"):
        validate(cfg, SCHEMA)


def test_every_schema_property_has_a_description():
    def walk(schema, where):
        for name, sub in schema.get("properties", {}).items():
            if "$ref" in sub:
                continue
            assert sub.get("description"), f"{where}.{name} has no description"
            walk(sub, f"{where}.{name}")
        for pat, sub in schema.get("patternProperties", {}).items():
            walk(sub, f"{where}.<{pat}>")

    for path in (ROOT / "config" / "schema").glob("*.schema.yaml"):
        walk(yaml.safe_load(path.read_text()), path.stem)
