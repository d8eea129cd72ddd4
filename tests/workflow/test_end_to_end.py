"""End to end through Snakemake on a tiny IDX dataset: table1 + figures, a no-op rerun, resume after a
lost output, and the HTML report. Only the sample-wise experiment and its claims ledger are enabled (~1 min on 2
cores)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT, tiny_mnist_workflow, write_tiny_idx

pytestmark = pytest.mark.slow


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args],
        cwd=work, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tiny_mnist_workflow(tmp_path_factory.mktemp("wf"), claims=True)
    _snakemake(work, "--cores", "2")
    return work


def test_outputs(workdir):
    t1 = pd.read_csv(workdir / "results/tables/table1.csv")
    # 2 code variants × (class 0 default + class 0 log c 1 + class 1 default) × 3 scores
    assert len(t1) == 2 * 3 * 3 and set(t1["variant"]) == {"corrected", "released"}
    assert set(t1["dataset"]) == {"fashion_mnist"} and t1["auroc"].between(0, 1).all()
    assert set(t1["n_anomalous"]) == {20}
    for f in ("fig1.png", "fig1.pdf", "fig1_sweep.png", "fig1_sweep.pdf"):
        assert (workdir / "results/figures" / f).stat().st_size > 1000
    assert (workdir / "resources/mnist/fashion_mnist.npz").exists()
    logs = list((workdir / "results/logs/mnist_train").rglob("*.log"))
    assert len(logs) == 6 and all("epoch 2/2" in p.read_text() for p in logs)
    assert list((workdir / "results/benchmarks/mnist_train").rglob("*.tsv"))
    assert list((workdir / "results/mnist/tensorboard").rglob("events.out.tfevents.*"))


def test_rerun_is_a_no_op(workdir):
    proc = _snakemake(workdir, "--cores", "2", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_lost_model_resumes_from_checkpoint(workdir):
    """Rebuilding a lost model file resumes from the run's checkpoint (finished: no epoch is retrained)."""
    import torch

    from anoloc.models import load_model

    model = next((workdir / "results/mnist/models").rglob("model.pt"))
    before, _ = load_model(model)
    model.unlink()
    _snakemake(workdir, str(model.relative_to(workdir)))  # no --cores: profiles/default supplies it
    log = workdir / "results/logs/mnist_train" / model.relative_to(workdir / "results/mnist/models").parent
    text = log.with_suffix(".log").read_text()
    assert "resuming" in text and "epoch 1/2" not in text
    after, _ = load_model(model)
    for k, v in before.state_dict().items():
        assert torch.equal(after.state_dict()[k], v), k


def test_report_contains_every_table_and_figure(workdir):
    _snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    for name in ("table1.csv", "table1_summary.csv", "fig1.png", "fig1_sweep.png", "claims.csv", "claims.png"):
        assert name in html, name
    assert "Zimmerer" in html


def test_changed_data_retrains_instead_of_resuming_a_stale_model(workdir):
    """Other images under the same path: Snakemake reruns prepare → train → score, and the training discards the
    old checkpoint (its data digest differs) instead of resuming it, so table1 comes from the new models."""
    before = pd.read_csv(workdir / "results/tables/table1.csv")
    write_tiny_idx(workdir / "idx", seed=1)  # same files, other images
    (workdir / "resources/mnist/fashion_mnist.npz").unlink()  # the source is outside the DAG: prepare again
    _snakemake(workdir, "--cores", "2")
    logs = list((workdir / "results/logs/mnist_train").rglob("*.log"))
    texts = [p.read_text() for p in logs]
    assert len(logs) == 6 and all("discarding checkpoint" in t and "data changed" in t for t in texts), texts[0]
    assert not any("resuming" in t for t in texts)
    after = pd.read_csv(workdir / "results/tables/table1.csv")
    assert not np.allclose(before["auroc"], after["auroc"])
