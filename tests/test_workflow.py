"""The Snakemake workflow: dry runs build exactly the jobs a target needs (no training here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _dry_run(tmp_path, *args):
    """Dry-run in an empty working copy of the config (so no existing result is reused)."""
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True, exist_ok=True)
    for f in (ROOT / "config").glob("*.yaml"):
        (work / "config" / f.name).write_text(f.read_text())
    proc = subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-n", "--nolock", *args],
        cwd=work, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    stats = {}
    block = proc.stdout.split("Job stats:")[-1] if "Job stats:" in proc.stdout else ""
    for line in block.splitlines():
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if m:
            stats[m[1]] = int(m[2])
    return stats, proc


def test_table1_target_builds_exactly_its_jobs(tmp_path):
    stats, _ = _dry_run(tmp_path, "results/tables/table1.csv")
    # demo: 1 dataset × (3 classes at defaults + 2 sweep variants on class 0) × 1 seed
    assert stats == {"mnist_prepare": 1, "mnist_train": 5, "mnist_score": 5, "mnist_table": 1, "total": 12}


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


def test_paper_config_dry_run(tmp_path):
    data = _fake_real_brain_layout(tmp_path / "data")
    overlay = tmp_path / "paths.yaml"
    overlay.write_text(f"brain:\n  data:\n    hcp_root: {data / 'HCP'}\n    brats_root: {data / 'BraTS'}\n")
    stats, _ = _dry_run(tmp_path, "--configfile", "config/paper.yaml", str(overlay))
    # 2 datasets × 10 classes × (1 default + 4 z + 5 log c + 2 s variants) × 3 seeds
    assert stats["mnist_train"] == 2 * 10 * 12 * 3
    assert stats["mnist_prepare"] == 2
    assert stats["brain_preprocess"] == 3 + 4  # one job per subject
    assert {"cells_prepare", "mvtec_download", "mvtec_weights"} <= set(stats)


def test_paper_config_without_brain_data_stops_with_a_clear_message(tmp_path):
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    for f in (ROOT / "config").glob("*.yaml"):
        (work / "config" / f.name).write_text(f.read_text())
    proc = subprocess.run([*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-n", "--configfile", "config/paper.yaml"],
                          cwd=work, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    assert "brain.data.hcp_root" in out and "ConnectomeDB" in out and "enabled: false" in out


def test_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mnist:\n  train:\n    epochs: -3\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    proc = subprocess.run([*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-n", "--configfile", str(bad)],
                          cwd=work, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode != 0
    assert "['mnist']['train']['epochs']" in proc.stderr + proc.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "workflow" / "scripts").glob("*.py")))
def test_scripts_are_thin(script):
    text = (ROOT / "workflow" / "scripts" / script).read_text()
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(code) <= 45, f"{script} has {len(code)} lines of code; move logic into src/anoloc"
    assert "snakemake.log[0]" in text


def test_library_has_no_snakemake_import():
    offenders = [
        str(p)
        for p in Path(ROOT / "src").rglob("*.py")
        if re.search(r"^\s*(import|from) snakemake", p.read_text(), re.M)
    ]
    assert not offenders


def _rule_blocks():
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule \w+:)", smk.read_text(), flags=re.M)[1:]:
            yield smk.name, re.match(r"rule (\w+):", block)[1], block


@pytest.mark.parametrize(
    ("smk", "rule", "block"), list(_rule_blocks()), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else ""
)
def test_rules_declare_log_threads_resources(smk, rule, block):
    """Cluster-ready rules: log, threads, mem_mb and runtime everywhere; GPU and benchmark for train/score."""
    for directive in ("log:", "threads:", "resources:", "mem_mb=", "runtime=", "conda:"):
        assert directive in block, f"rule {rule} ({smk}) lacks {directive}"
    if re.search(r"_(train|score)", rule):
        assert "gpu=" in block, f"rule {rule} ({smk}) should request a GPU when device != cpu"
        assert "benchmark:" in block, f"rule {rule} ({smk}) lacks a benchmark file"
