"""Faults of a whole workflow run: a training job killed outright (SIGKILL of the Snakemake process group) and the
stale lock it leaves, a bad config value, sweep classes that would silently not run.

What the user sees is asserted: the message names the key or says what to run; after `snakemake --unlock` a plain
rerun resumes the killed training from its checkpoint and ends with tables byte-identical to an uninterrupted run;
nothing half-written remains; nothing outside `results/`, `resources/` and Snakemake's own `.snakemake/` changed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, tiny_mnist_workflow

pytestmark = [pytest.mark.faults, pytest.mark.slow]
ONE_RUN = {
    "variants": ["corrected"],
    "held_out_classes": [0],
    "sweep": {},
    "sweep_classes": [],
    "train": {"epochs": 6, "checkpoint_every": 1},
}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "1", *args]


def _run(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), cwd=work, capture_output=True, text=True, timeout=900)


def _files(work: Path) -> dict[str, int]:
    """Every file outside the folders a run may write, with its modification time."""
    allowed = ("results", "resources", ".snakemake")
    return {
        str(p.relative_to(work)): p.stat().st_mtime_ns
        for p in work.rglob("*")
        if p.is_file() and p.relative_to(work).parts[0] not in allowed
    }


def test_sigkill_mid_training_then_unlock_and_rerun_resumes_to_identical_tables(tmp_path):
    ref = tiny_mnist_workflow(tmp_path / "ref", **ONE_RUN)
    assert _run(ref).returncode == 0

    work = tiny_mnist_workflow(tmp_path / "work", **ONE_RUN)
    before = _files(work)
    proc = subprocess.Popen(
        _cmd(), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    ckpt_dir = work / "results/mnist/checkpoints"
    deadline = time.monotonic() + 600
    while not list(ckpt_dir.rglob("checkpoint.pt")):  # training has written its first resume point
        assert proc.poll() is None, "the run ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: Snakemake and the training job
    proc.wait()
    assert not list((work / "results/mnist/models").rglob("model.pt"))  # no model was declared done

    locked = _run(work)  # Snakemake refuses to start in a folder a killed run left locked
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    assert _run(work, "--unlock").returncode == 0
    rerun = _run(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    log = next((work / "results/logs/mnist_train").rglob("*.log")).read_text()
    assert "resuming" in log and "epoch 6/6" in log
    for name in ("table1.csv", "table1_summary.csv"):
        assert (work / "results/tables" / name).read_bytes() == (ref / "results/tables" / name).read_bytes(), name
    leftovers = [p for p in (work / "results").rglob(".*") if p.is_file()]
    assert not leftovers, leftovers  # no temporary file of a killed write remains
    assert _files(work) == before  # nothing outside results/, resources/ and .snakemake/ was touched


@pytest.mark.parametrize(
    ("mnist", "message"),
    [
        ({"sweep_classes": [0, 7], "sweep": {"log_c": [1.0]}}, r"mnist.sweep_classes \[7\] are not in mnist.held_out"),
        ({"defaults": {"log_c": float("nan")}}, r"mnist.defaults.log_c: every value must be a finite number"),
        ({"train": {"epochs": 0}}, r"\['mnist'\]\['train'\]\['epochs'\]"),
        ({"variants": ["legacy"]}, r"legacy"),
    ],
)
def test_bad_config_stops_before_any_job_naming_the_key(tmp_path, mnist, message):
    work = tiny_mnist_workflow(tmp_path / "work")
    cfg = yaml.safe_load((work / "config/config.yaml").read_text())
    for key, value in mnist.items():
        cfg["mnist"][key] = {**cfg["mnist"][key], **value} if isinstance(value, dict) else value
    (work / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    run = _run(work, "-n")
    assert run.returncode != 0 and re.search(message, run.stdout + run.stderr), run.stderr[-2000:]
    assert not (work / "results").exists() and not (work / "resources").exists()
