"""The claims ledger in the workflow: `snakemake results/tables/claims.csv` builds exactly the jobs it needs, and its
inputs follow the enabled experiments (dry runs, no training)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # each dry run parses the whole workflow (a few seconds)


def test_claims_table_builds_exactly_its_jobs(dry_run):
    jobs = dry_run("results/tables/claims.csv")
    # the demo: score files of every mnist run (2 variants × (3 classes + 2 sweep settings)), the brain runs and their
    # tables (oracle thresholds, calibration), the six cell methods and the kNN methods on the cells
    assert jobs["claims_tables"] == 1 and jobs["mnist_score"] == 10 and jobs["brain_tables"] == 1
    assert jobs["brain_score"] == 2 and jobs["cells_score"] == 6 and jobs["cells_score_knn"] == 3
    # nothing else: no figure, no other table, nothing of the MVTec stand-in (its claims are `not measured`)
    for rule in ("claims_figures", "mnist_tables", "mnist_figures", "brain_figures", "cells_tables", "cells_panels",
                 "cells_figures", "mvtec_score", "mvtec_tables", "mvtec_figures"):  # fmt: skip
        assert rule not in jobs, rule


def test_claims_inputs_follow_the_enabled_experiments(dry_run, tmp_path):
    overlay = tmp_path / "mnist_only.yaml"
    overlay.write_text("brain: {enabled: false}\ncells: {enabled: false}\nmvtec: {enabled: false}\n")
    jobs = dry_run("results/tables/claims.csv", "--configfile", str(overlay))
    assert set(jobs) == {"mnist_prepare", "mnist_train", "mnist_score", "claims_tables", "total"}


def test_demo_builds_the_ledger_and_its_figure_unless_disabled(dry_run, tmp_path):
    jobs = dry_run()
    assert jobs["claims_tables"] == 1 and jobs["claims_figures"] == 1
    overlay = tmp_path / "no_claims.yaml"
    overlay.write_text("claims: {enabled: false}\n")
    assert not {"claims_tables", "claims_figures"} & set(dry_run("--configfile", str(overlay)))


def test_fashion_mnist_paper_config_dry_run(dry_run):
    """The committed config behind docs/claims/fashion_mnist_paper.csv stays valid: 2 variants × 10 classes."""
    jobs = dry_run("--configfile", "config/fashion_mnist_paper.yaml", "--replace-workflow-config")
    assert jobs["mnist_train"] == 2 * 10 and jobs["mnist_prepare"] == 1
    assert jobs["claims_tables"] == 1 and jobs["claims_figures"] == 1
    assert not any(rule.startswith(("brain_", "cells_", "mvtec_")) for rule in jobs)
