"""The Snakemake workflow: dry runs build exactly the jobs a target needs (no training here), thin scripts,
cluster-ready rules, one wildcard table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anoloc import paths
from tests.helpers import ROOT, rule_blocks

pytestmark = pytest.mark.slow  # each dry run parses the whole workflow (a few seconds)


def test_table1_target_builds_exactly_its_jobs(dry_run):
    jobs = dry_run("results/tables/table1.csv")
    # demo: 2 code variants × 1 dataset × (3 classes at defaults + 2 sweep settings on class 0) × 1 seed
    assert jobs == {"mnist_prepare": 1, "mnist_train": 10, "mnist_score": 10, "mnist_tables": 1, "total": 22}


def test_demo_dag_has_every_experiment(dry_run):
    jobs = dry_run()
    for rule in ("mnist_figures", "brain_figures", "cells_figures", "mvtec_figures", "cells_score_knn"):
        assert jobs.get(rule), rule
    assert jobs["brain_preprocess"] == 12 + 8 and jobs["cells_score"] == 6 and jobs["mvtec_score"] == 9
    assert jobs["brain_train"] == 2 and jobs["mnist_train"] == 2 * 5  # the brain sweep setting; both mnist variants


def _fake_real_brain_layout(root: Path, n_hcp: int = 3, n_brats: int = 4) -> Path:
    """Empty files in the HCP / BraTS 2017 layouts: enough for the parse-time layout check of a dry run."""
    for i in range(n_hcp):
        t1w = root / "HCP" / f"1000{i}" / "T1w"
        t1w.mkdir(parents=True)
        (t1w / "T2w_acpc_dc_restore_brain.nii.gz").touch()
    for i in range(n_brats):
        grade = "HGG" if i % 2 else "LGG"
        case = root / "BraTS" / grade / f"Brats17_X_{i}_1"
        case.mkdir(parents=True)
        for mod in ("t2", "seg"):
            (case / f"Brats17_X_{i}_1_{mod}.nii.gz").touch()
    return root


def test_paper_config_dry_run(dry_run, tmp_path):
    data = _fake_real_brain_layout(tmp_path / "data")
    overlay = tmp_path / "paths.yaml"
    overlay.write_text(f"brain:\n  data:\n    hcp_root: {data / 'HCP'}\n    brats_root: {data / 'BraTS'}\n")
    jobs = dry_run("--configfile", "config/paper.yaml", str(overlay))
    # 2 code variants × 2 datasets × 10 classes × (1 default + 4 z + 5 log c + 2 s settings) × 3 seeds
    assert jobs["mnist_train"] == 2 * 2 * 10 * 12 * 3
    assert jobs["mnist_prepare"] == 2
    assert jobs["brain_preprocess"] == 3 + 4  # one job per subject
    assert jobs["brain_train"] == 2 * (1 + 3 + 2 + 2)  # variants × (default + z + log c + width settings), 1 seed
    # corrected, released and bounded (which reuses the corrected stage 1) × 5 seeds; × 6 methods for the scores
    assert jobs["cells_train_mean"] == 2 * 5 and jobs["cells_train_precision"] == 3 * 2 * 5
    assert jobs["cells_score"] == 3 * 6 * 5 and jobs["cells_diagnose"] == 3 * 5
    assert jobs["cells_score_knn"] == 3 * 3 and jobs["mvtec_score"] == 15 * 3
    assert {"cells_prepare", "mvtec_download", "mvtec_weights"} <= set(jobs)


def test_paper_config_without_brain_data_stops_with_a_clear_message(snakemake_run):
    run = snakemake_run("-n", "--configfile", "config/paper.yaml", check=False)
    assert run.returncode != 0
    assert "brain.data.hcp_root" in run.output and "ConnectomeDB" in run.output and "enabled: false" in run.output


def test_bad_config_stops_before_any_job(snakemake_run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mnist:\n  train:\n    epochs: -3\n")
    run = snakemake_run("-n", "--configfile", str(bad), check=False)
    assert run.returncode != 0
    assert "['mnist']['train']['epochs']" in run.output


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "workflow" / "scripts").glob("*.py")))
def test_scripts_are_thin(script):
    text = (ROOT / "workflow" / "scripts" / script).read_text()
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(code) <= 30, f"{script} has {len(code)} lines of code; move logic into src/anoloc"
    assert "start_job(snakemake" in text, f"{script} does not start with anoloc.jobs.start_job"
    assert re.search(r"^(import|from) ", text, re.M), script


def test_every_rule_has_a_script_of_its_name():
    scripts = {p.stem for p in (ROOT / "workflow" / "scripts").glob("*.py")}
    used = {
        re.search(r'script:\s*\n\s+"\.\./workflow/scripts/(\w+)\.py"', b)[1]
        for _, _, b in rule_blocks()
        if "script:" in b
    }
    assert used == scripts, f"unused scripts {sorted(scripts - used)}, missing {sorted(used - scripts)}"


def test_library_has_no_snakemake_import():
    offenders = [
        str(p)
        for p in Path(ROOT / "src").rglob("*.py")
        if re.search(r"^\s*(import|from) snakemake", p.read_text(), re.M)
    ]
    assert not offenders


def test_rules_use_only_declared_wildcards():
    for smk, rule, block in rule_blocks():
        for name in re.findall(r"\{(\w+)\}", block):
            if name not in ("output", "input", "log", "params", "wildcards", "threads", "resources"):
                assert name in paths.WILDCARDS, f"rule {rule} ({smk.name}) uses an undeclared wildcard {{{name}}}"


@pytest.mark.parametrize(("smk", "rule", "block"), rule_blocks(), ids=lambda v: v if isinstance(v, str) else "")
def test_rules_declare_log_threads_resources(smk, rule, block):
    """Cluster-ready rules: log, threads, mem_mb and runtime everywhere; GPU and benchmark for train/score."""
    if rule in ("all", "figures"):
        return
    for directive in ("log:", "threads:", "resources:", "mem_mb=", "runtime=", "conda:"):
        assert directive in block, f"rule {rule} ({smk.name}) lacks {directive}"
    if re.search(r"_(train|score)", rule):
        assert "gpu=" in block, f"rule {rule} ({smk.name}) should request a GPU when device != cpu"
        assert "benchmark:" in block, f"rule {rule} ({smk.name}) lacks a benchmark file"
