"""SUPN precision diagnostics in the cells experiment (issue 11): the bounded stage 2, the per-cell conditioning
table and its summary, and fig4's checked sample (never inf)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from anoloc.data.cells import CellSplit, save_prepared
from anoloc.experiments.cells import steps as exp
from anoloc.experiments.cells import tables
from anoloc.experiments.cells.layout import DIAGNOSTICS
from anoloc.models import RunFiles, load_model
from anoloc.models.supn_diagnostics import CONDITIONING_COLUMNS
from anoloc.paths import fill
from tests.helpers import section

SMALL = section("cells", "model", hidden_dim=8, latent_dim=3)
QUIRKS = section("cells", "quirks")
TRAIN = section("cells", "train_mean", epochs=1, batch_size=4, lr=1e-3, collapse_threshold=0.0)
TRAIN_PRECISION = section("cells", "train_precision", epochs=1, batch_size=4, lr=1e-2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny prepared set (3 healthy + 2 infected test cells) and stage 1, SUPN, bounded SUPN and diag models."""
    tmp = tmp_path_factory.mktemp("cells")
    rng = np.random.default_rng(0)

    def split(n):
        return CellSplit(
            images=rng.integers(0, 255, (n, 128, 128), dtype=np.uint8),
            masks=np.zeros((n, 128, 128), bool) | (np.arange(128) > 40)[None, :, None],
            names=[f"{i:05d}.png" for i in range(n)],
        )

    npz = tmp / "cells.npz"
    save_prepared({"healthy_train": split(8), "healthy_test": split(3), "infected": split(2)}, npz, {"x": "y"})
    exp.train_mean(npz, SMALL, QUIRKS, TRAIN, 0, RunFiles(tmp / "mean.pt", tmp / "mean.csv", tmp / "run_mean"), "cpu")
    models = {"mean": tmp / "mean.pt"}
    for name, lik, bound in (("supn", "supn", None), ("bounded", "supn", 0.5), ("diag", "diag", 0.5)):
        files = RunFiles(tmp / f"{name}.pt", tmp / f"{name}.csv", tmp / f"run_{name}")
        exp.train_precision(npz, tmp / "mean.pt", lik, QUIRKS, TRAIN_PRECISION, 0, files, "cpu", offdiag_bound=bound)
        models[name] = files.model
    return npz, models


@pytest.mark.slow  # trains four tiny models (~30 s on 2 cores, shared with the next tests)
def test_offdiag_bound_changes_only_the_supn_stage_2(trained):
    _, models = trained
    bounded, meta = load_model(models["bounded"])
    assert bounded.hparams["offdiag_bound"] == 0.5 and meta["offdiag_bound"] == 0.5
    assert "offdiag_bound" not in load_model(models["supn"])[0].hparams  # the published model, unchanged hparams
    assert "offdiag_bound" not in load_model(models["diag"])[0].hparams  # the switch is SUPN-only
    assert "offdiag_bound" not in load_model(models["mean"])[0].hparams  # stage 1 is shared, never retrained


@pytest.mark.slow  # trains four tiny models (~30 s on 2 cores, shared with the next tests)
def test_diagnose_rows_columns_and_independent_values(trained):
    npz, models = trained
    frame = exp.diagnose(npz, {k: models[k] for k in ("supn", "bounded", "diag")}, QUIRKS, sigma_min_cells=1)
    assert len(frame) == 3 * 5 and list(frame["model"].unique()) == ["supn", "bounded", "diag"]
    assert set(CONDITIONING_COLUMNS) <= set(frame.columns) and {"split", "name", "label"} <= set(frame.columns)
    # σ_min only for the first healthy and the first infected cell of each model
    est = frame.groupby("model", sort=False)["sigma_min"].apply(lambda s: list(s.notna()))
    assert all(v == [True, False, False, True, False] for v in est)
    # diag: no off-diagonals → ratio 0, growth 1, never singular
    diag = frame[frame["model"] == "diag"]
    assert (diag["ratio_max"] == 0).all() and np.allclose(diag["solve_growth"], 1) and not diag["singular"].any()
    # bounded: every row strictly dominant (ρ_p < ρ̄ = 0.5), positive margin, σ_min above Varah's bound
    b = frame[frame["model"] == "bounded"]
    assert (b["ratio_max"] < 0.5).all() and (b["dominance_margin"] > 0).all() and not b["singular"].any()
    ok = b["sigma_min"].notna()
    assert (b.loc[ok, "sigma_min"] >= (1 - 0.5) * b.loc[ok, "diag_min"] / 128 - 1e-9).all()
    # the range of exp(ℓ), recomputed from the model's whitening at z = μ_z
    model, _ = load_model(models["supn"])
    x, _, _ = exp.test_set(npz, QUIRKS)
    with torch.no_grad():
        _, log_diag, _, _ = model.whitening(model.encode(x)[0])
    d = torch.exp(log_diag.double()).flatten(1)
    s = frame[frame["model"] == "supn"]
    np.testing.assert_allclose(s["diag_min"], d.amin(1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(s["diag_max"], d.amax(1).numpy(), rtol=1e-5)


def test_diagnostics_table_and_summary(tmp_path):
    files = []
    rng = np.random.default_rng(1)
    for variant, seed in (("corrected", 0), ("released", 3)):
        f = fill(DIAGNOSTICS, variant=variant, seed=seed).replace("results/", str(tmp_path) + "/results/", 1)
        n = 6
        frame = pd.DataFrame(
            {
                "split": ["healthy_test"] * 3 + ["infected"] * 3,
                "name": [f"{i}.png" for i in range(n)],
                "label": [0, 0, 0, 1, 1, 1],
                "model": "supn",
                **{c: rng.uniform(0.1, 3, n) for c in CONDITIONING_COLUMNS if c != "singular"},
                "singular": [True, False, True, False, False, False],
            }
        )
        frame.loc[2, "solve_growth"] = math.inf
        frame.loc[4:, "sigma_min_rel"] = np.nan
        f_path = tmp_path / f
        f_path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(f_path, index=False)
        files.append(f_path)
    table = tables.diagnostics_table(files)
    assert list(table.columns[:6]) == ["variant", "seed", "model", "split", "name", "label"]
    assert table.groupby("variant")["seed"].first().to_dict() == {"corrected": 0, "released": 3}
    summary = tables.diagnostics_summary(table)
    assert len(summary) == 2 and list(summary.columns) == tables.DIAGNOSTICS_SUMMARY_COLUMNS
    g = table[table["variant"] == "released"]
    row = summary[summary["variant"] == "released"].iloc[0]
    assert row["frac_singular"] == pytest.approx(2 / 6) and row["n_sigma_min"] == 4
    assert row["ratio_max"] == pytest.approx(np.median(g["ratio_max"]))
    assert row["sigma_min_rel_median"] == pytest.approx(np.median(g["sigma_min_rel"].dropna()))
    assert row["log10_growth_median"] == pytest.approx(np.median(np.log10(g["solve_growth"].astype(float))))
    assert row["diag_min"] == pytest.approx(g["diag_min"].min())


@pytest.mark.slow
@pytest.mark.parametrize("repair", [None, 0.9])
def test_fig4_sample_is_never_inf(trained, repair, monkeypatch):
    npz, models = trained
    # make every factor singular: huge off-diagonals relative to exp(ℓ) (a chain of ratio 10⁶ overflows float64)
    from anoloc.models.cell_vae import CellVAE

    original = CellVAE.whitening

    def singular_whitening(self, z):
        mean, log_diag, off_diag, c = original(self, z)
        if self.likelihood == "supn":
            off_diag = torch.full_like(off_diag, 1e6)
        return mean, log_diag, off_diag, c

    monkeypatch.setattr(CellVAE, "whitening", singular_whitening)
    out = exp.panels(npz, models["mean"], models["diag"], models["supn"], QUIRKS, 1, 1, repair_rho=repair)
    assert out["supn_singular"].all() and not np.isinf(out["supn_sample"]).any()
    if repair is None:
        assert np.isnan(out["supn_sample"]).all() and not out["supn_repaired"].any()
    else:
        assert np.isfinite(out["supn_sample"]).all() and out["supn_repaired"].all()
