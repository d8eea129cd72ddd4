"""The matrix in the workflow: `snakemake results/tables/matrix.csv` builds exactly the jobs it needs — the paper
experiments' own scoring jobs for the coinciding cells (no copies), the matrix's jobs for the new ones."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # each dry run parses the whole workflow (a few seconds)


def test_matrix_table_builds_exactly_its_jobs(dry_run):
    jobs = dry_run("results/tables/matrix.csv")
    # new cells: MNIST class 0 (3 kNN + 2 baselines), brain (3 kNN + 2 baselines), cells (2 baselines),
    # 3 MVTec classes (2 baselines each); the conv VAE on the cells and on each MVTec class
    assert jobs["matrix_score"] == 5 + 5 + 2 + 3 * 2
    assert jobs["matrix_train_vae"] == jobs["matrix_score_vae"] == 1 + 3
    # coinciding cells: the experiments' own jobs, only those the matrix reads (code variant corrected, default runs)
    assert jobs["mnist_train"] == jobs["mnist_score"] == 1  # held-out digit 0, seed 123, z20_logc0_s1
    assert jobs["brain_train"] == jobs["brain_score"] == 1  # the default run, not the sweep
    assert jobs["cells_score"] == 6 and jobs["cells_score_knn"] == 3 and jobs["mvtec_score"] == 3 * 3
    assert jobs["matrix_tables"] == 1
    for rule in ("mnist_tables", "brain_tables", "cells_tables", "mvtec_tables", "matrix_figures", "cells_panels"):
        assert rule not in jobs, rule


def test_demo_runs_the_matrix_figures(dry_run):
    jobs = dry_run()
    assert jobs["matrix_figures"] == 1 and jobs["matrix_tables"] == 1
    assert jobs["brain_train"] == 2 and jobs["mnist_train"] == 10  # the matrix adds no training of its own there


def test_matrix_off_and_fashion_mnist_without_source(snakemake_run, tmp_path):
    off = tmp_path / "off.yaml"
    off.write_text("matrix:\n  enabled: false\n")
    assert "matrix_tables" not in snakemake_run("-n", "--configfile", "config/config.yaml", str(off)).jobs
    bad = tmp_path / "bad.yaml"
    bad.write_text("matrix:\n  enabled: true\n  datasets:\n    fashion_mnist: {}\n")
    run = snakemake_run("-n", "--configfile", "config/config.yaml", str(bad), check=False)
    assert run.returncode != 0 and "mnist.datasets.fashion_mnist" in run.output


def test_matrix_runs_the_cells_knn_jobs_with_the_paper_experiments_off(dry_run, tmp_path):
    """Switching the paper experiments off leaves the matrix whole: it asks for the kNN-on-cells jobs itself."""
    overlay = tmp_path / "matrix_only.yaml"
    overlay.write_text(
        "brain: {enabled: false}\ncells: {enabled: false}\nmvtec: {enabled: false, cells: {enabled: false}}\n"
    )
    jobs = dry_run("--configfile", str(overlay))
    assert jobs["matrix_tables"] == 1 and jobs["cells_score_knn"] == 3 and jobs["mvtec_score"] == 3 * 3
    assert not {"cells_tables", "mvtec_tables", "brain_tables"} & set(jobs)
