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
