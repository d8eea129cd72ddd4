"""The cells rules: the DAG of the demo and of the CI overlay (Snakemake dry-runs, no training)."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import ROOT

pytestmark = pytest.mark.slow
OTHERS_OFF = {e: {"enabled": False} for e in ("mnist", "brain", "mvtec", "matrix", "claims")}


def cells_only(dry_run, tmp_path, *overlays):
    off = tmp_path / "others_off.yaml"
    off.write_text(yaml.safe_dump(OTHERS_OFF))
    return dry_run("--configfile", "config/config.yaml", str(off), *map(str, overlays))


def test_demo_dag(dry_run, tmp_path):
    assert cells_only(dry_run, tmp_path) == {
        "cells_prepare": 1,
        "cells_train_mean": 1,
        "cells_train_precision": 2,
        "cells_score": 6,
        "cells_tables": 1,
        "cells_panels": 1,
        "cells_figures": 1,
        "cells_diagnose": 1,
        "cells_diagnostics": 1,
        "all": 1,
        "total": 16,
    }


def test_diagnostics_off_and_bounded_supn(dry_run, tmp_path, snakemake_run):
    """`cells.diagnostics.enabled: false` drops its two rules; `cells.model.offdiag_bound` is validated."""
    off = tmp_path / "diag_off.yaml"
    off.write_text("cells: {diagnostics: {enabled: false}}\n")
    assert not {"cells_diagnose", "cells_diagnostics"} & set(cells_only(dry_run, tmp_path, off))
    bad = tmp_path / "bad_bound.yaml"
    bad.write_text("cells: {model: {offdiag_bound: 1.5}}\n")
    run = snakemake_run("-n", "--configfile", "config/config.yaml", str(bad), check=False)
    assert run.returncode != 0 and "offdiag_bound" in run.output


def test_ci_overlay_and_seeds(dry_run, tmp_path):
    ci = yaml.safe_load((ROOT / "config" / "ci_cells_real.yaml").read_text())
    assert set(ci) == {"cells"} and ci["cells"]["data"]["path"] == "../shared/data/fl_dataset"
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(yaml.safe_dump({"cells": {"seeds": [0, 1, 2]}}))
    jobs = cells_only(dry_run, tmp_path, ROOT / "config" / "ci_cells_real.yaml", seeds)
    assert (jobs["cells_train_mean"], jobs["cells_train_precision"], jobs["cells_score"]) == (3, 6, 18)
    assert jobs["cells_tables"] == jobs["cells_panels"] == 1
    assert jobs["cells_diagnose"] == 3 and jobs["cells_diagnostics"] == 1  # one per seed


def test_bounded_variant_shares_the_corrected_stage_1(dry_run, tmp_path):
    overlay = tmp_path / "bounded.yaml"
    overlay.write_text("cells: {variants: [corrected, bounded]}\n")
    jobs = cells_only(dry_run, tmp_path, overlay)
    assert jobs["cells_train_mean"] == 1  # one stage-1 model for both variants
    assert jobs["cells_train_precision"] == 4 and jobs["cells_score"] == 12 and jobs["cells_diagnose"] == 2
