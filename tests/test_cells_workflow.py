"""The cells rules: the DAG of the demo and of the CI overlay (Snakemake dry-runs, no training)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
OTHERS_OFF = {"mnist": {"enabled": False}, "brain": {"enabled": False}, "mvtec": {"enabled": False}}


def dry_run(tmp_path: Path, *overlays: Path) -> dict[str, int]:
    off = tmp_path / "others_off.yaml"
    off.write_text(yaml.safe_dump(OTHERS_OFF))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "-n"]
    cmd += ["--nolock", "--cores", "2", "--configfile", str(ROOT / "config" / "config.yaml"), str(off)]
    cmd += [str(o) for o in overlays]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    stats = out.stdout.split("Job stats:")[1].split("Reasons:")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


@pytest.mark.slow
def test_demo_dag(tmp_path):
    jobs = dry_run(tmp_path)
    assert jobs == {
        "cells_prepare": 1,
        "cells_train_mean": 1,
        "cells_train_precision": 2,
        "cells_score": 6,
        "cells_table": 1,
        "cells_fig4_panels": 1,
        "cells_fig4": 1,
        "cells_fig5": 1,
        "all": 1,
        "total": 15,
    }


@pytest.mark.slow
def test_ci_overlay_and_seeds(tmp_path):
    ci = yaml.safe_load((ROOT / "config" / "ci_cells_real.yaml").read_text())
    assert set(ci) == {"cells"} and ci["cells"]["data"]["path"] == "../shared/data/fl_dataset"
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(yaml.safe_dump({"cells": {"seeds": [0, 1, 2]}}))
    jobs = dry_run(tmp_path, ROOT / "config" / "ci_cells_real.yaml", seeds)
    assert (jobs["cells_train_mean"], jobs["cells_train_precision"], jobs["cells_score"]) == (3, 6, 18)
    assert jobs["cells_table"] == jobs["cells_fig4_panels"] == 1
