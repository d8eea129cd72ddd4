"""The cells learning-curve rules (`cells.curve`): the DAG with the curve overlay, none without it (dry runs; a
real Snakemake run of a tiny curve on the synthetic cells takes ~2 min here, so the library tests cover it)."""

from __future__ import annotations

import pytest
import yaml

from anoloc.experiments.cells import curve_layout
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
OTHERS_OFF = {e: {"enabled": False} for e in ("mnist", "brain", "mvtec", "matrix", "claims")}
CURVE_RULES = (
    "cells_curve_train_mean",
    "cells_curve_train_precision",
    "cells_curve_score",
    "cells_curve_tables",
    "cells_curve_figures",
)


def overlay(tmp_path, name, content):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content))
    return str(path)


def cells_only(run, tmp_path, *overlays, targets=(), **kw):
    off = overlay(tmp_path, "others_off", OTHERS_OFF)
    return run(*targets, "--configfile", "config/config.yaml", off, *overlays, **kw)


def test_curve_overlay_dag(dry_run, tmp_path):
    curve = yaml.safe_load((ROOT / "config" / "cells_curve.yaml").read_text())
    assert set(curve) == {"cells"} and set(curve["cells"]) == {"curve"} and curve["cells"]["curve"]["enabled"]
    jobs = cells_only(dry_run, tmp_path, str(ROOT / "config" / "cells_curve.yaml"))
    seeds, steps = len(curve["cells"]["curve"]["seeds"]), len(curve["cells"]["curve"]["steps"])
    assert (seeds, steps) == (3, 7)
    assert {r: jobs[r] for r in CURVE_RULES} == {
        "cells_curve_train_mean": seeds,
        "cells_curve_train_precision": 2 * seeds,
        "cells_curve_score": 3 * 2 * steps * seeds,  # model × inference × step × seed
        "cells_curve_tables": 1,
        "cells_curve_figures": 1,
    }
    # the demo's own cells jobs are unchanged, the curve adds its jobs
    off = cells_only(dry_run, tmp_path)
    assert {r: n for r, n in jobs.items() if r not in CURVE_RULES and r != "total"} == {
        r: n for r, n in off.items() if r != "total"
    }
    assert jobs["total"] == off["total"] + seeds + 2 * seeds + 6 * steps * seeds + 2


def test_curve_off_has_no_curve_jobs(dry_run, tmp_path):
    jobs = cells_only(dry_run, tmp_path)
    assert not set(CURVE_RULES) & set(jobs) and jobs["cells_train_mean"] == 1


def test_curve_targets_alone(dry_run, tmp_path):
    on = overlay(tmp_path, "curve", {"cells": {"curve": {"enabled": True, "steps": [2, 5], "seeds": [0, 4]}}})
    jobs = cells_only(dry_run, tmp_path, on, targets=(curve_layout.TABLE,))
    assert jobs == {
        "cells_prepare": 1,
        "cells_curve_train_mean": 2,
        "cells_curve_train_precision": 4,
        "cells_curve_score": 24,
        "cells_curve_tables": 1,
        "total": 32,
    }


def test_curve_target_needs_the_curve_enabled(snakemake_run, tmp_path):
    run = cells_only(snakemake_run, tmp_path, targets=("-n", curve_layout.TABLE), check=False)
    assert run.returncode != 0 and "table4_curve" in run.output
