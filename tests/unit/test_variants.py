"""anoloc.variants: one definition of the released-code variant per experiment, applied to a config section."""

from __future__ import annotations

import re

import pytest

from anoloc import variants
from tests.helpers import ROOT, schema, section


@pytest.mark.parametrize("experiment", sorted(variants.RELEASED))
def test_released_switches_are_schema_keys_and_corrected_is_the_section_as_given(experiment):
    base = section(experiment, **({"enabled": True} if experiment != "cells" else {}))
    corrected = variants.apply(experiment, base, "corrected")
    assert corrected == base and corrected is not base
    released = variants.apply(experiment, base, "released")
    sch = schema(experiment)
    for key, value in variants.overrides(experiment):
        node, sub = released, sch
        for part in key.split("."):
            sub = sub["properties"][part]  # every switch is a documented config key
            node = node[part]
        assert node == value, key
        assert ("default" in sub and sub["default"] != value) or value is None, f"{key}: the default is released"
    assert base == section(experiment, **({"enabled": True} if experiment != "cells" else {}))  # left unchanged


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        variants.apply("mnist", section("mnist"), "legacy")


def test_readme_lists_every_released_switch():
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Code variants") : text.index("## Project layout")]
    for experiment in variants.RELEASED:
        for key, value in variants.overrides(experiment):
            shown = "null" if value is None else str(value).lower()
            assert re.search(rf"`{re.escape(key)}(: {re.escape(shown)})?`", block), f"{experiment}: {key}"


def test_deviations_are_schema_keys_apply_only_where_defined_and_share_stage_1():
    base = section("cells")
    bounded = variants.apply("cells", base, "bounded")
    sch = schema("cells")
    for key, value in variants.overrides("cells", "bounded"):
        node, sub = bounded, sch
        for part in key.split("."):
            sub, node = sub["properties"][part], node[part]
        assert node == value and sub["default"] != value, key  # a documented key, off by default
    assert bounded["model"]["offdiag_bound"] == 0.99 and bounded["quirks"] == base["quirks"]
    assert variants.stage1_variant("bounded") == "corrected" and variants.stage1_variant("released") == "released"
    assert "bounded" in schema("cells")["properties"]["variants"]["items"]["enum"]
    assert "bounded" not in schema("mnist")["properties"]["variants"]["items"]["enum"]
    with pytest.raises(ValueError, match="does not apply to mnist"):
        variants.apply("mnist", section("mnist"), "bounded")


def test_readme_lists_every_deviation():
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Code variants") : text.index("## Project layout")]
    for experiment, devs in variants.DEVIATIONS.items():
        for variant in devs:
            assert f"`{variant}`" in block, variant
            for key, value in variants.overrides(experiment, variant):
                assert f"`{key}: {value}`" in block, key
