"""table4 and the cells figures: metrics per seed against scikit-learn, mean ± std, kNN rows, torch-free."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from anoloc.experiments.cells.layout import SCORES, parse_score_file, table4_inputs, vae_score_files
from anoloc.experiments.cells.tables import table4, table4_runs, write_table4
from anoloc.scores.names import CELL_VAE_METHODS


def write_scores(path, seed, shift, backbone=""):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(11, int), np.ones(9, int)]
    df = pd.DataFrame(
        {
            "split": np.where(labels == 1, "infected", "healthy_test"),
            "name": [f"{i:05d}.png" for i in range(20)],
            "label": labels,
            "score": rng.normal(size=20) + shift * labels,
            "backbone": backbone,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return df


def test_parse_score_file():
    parsed = parse_score_file("results/cells/scores/corrected/supn_restoration/seed3.csv")
    assert parsed == ("corrected", "supn", "restoration", 3)
    assert parse_score_file("results/cells/scores/released/l2_sampled/seed0.csv") == ("released", "l2", "sampled", 0)
    parsed = parse_score_file("/elsewhere/results/cells/scores/corrected/patchcore/seed1.csv")
    assert parsed == ("corrected", "patchcore", "", 1)


def test_table4_metrics_and_summary(tmp_path):
    paths, frames = [], {}
    runs_of = (("corrected", "supn_sampled", 2.0), ("corrected", "diag_restoration", 0.5))
    runs_of += (("corrected", "padim", 1.0), ("released", "supn_sampled", -1.0))
    for variant, method, shift in runs_of:
        for seed in (0, 1, 2):
            p = tmp_path / SCORES.format(variant=variant, method=method, seed=seed)
            frames[variant, method, seed] = write_scores(
                p, seed + 10 * len(method) + len(variant), shift, "effnet" if method == "padim" else ""
            )
            paths.append(p)
    runs = table4_runs(paths)
    assert list(runs.columns) == [
        "variant",
        "model",
        "inference",
        "backbone",
        "seed",
        "auroc",
        "auprc",
        "ap",
        "n_healthy",
        "n_infected",
    ]
    row = runs[(runs.model == "supn") & (runs.seed == 1) & (runs.variant == "corrected")].iloc[0]
    df = frames["corrected", "supn_sampled", 1]
    precision, recall, _ = skm.precision_recall_curve(df.label, df.score)
    assert row.auroc == pytest.approx(skm.roc_auc_score(df.label, df.score))
    assert row.auprc == pytest.approx(skm.auc(recall, precision))
    assert row.ap == pytest.approx(skm.average_precision_score(df.label, df.score))
    assert (row.n_healthy, row.n_infected) == (11, 9) and row.inference == "sampled" and row.backbone == ""

    summary = table4(runs)
    stats = [f"{m}_{s}" for m in ("auroc", "auprc", "ap") for s in ("mean", "std")]
    assert list(summary.columns) == ["variant", "model", "inference", "backbone", *stats, "n_seeds"]
    # per variant: restoration rows first, then sampled, then the kNN methods (as the released evaluation table)
    assert list(zip(summary.variant, summary.model, strict=True)) == [
        ("corrected", "diag"),
        ("corrected", "supn"),
        ("corrected", "padim"),
        ("released", "supn"),
    ]
    released = summary[summary.variant == "released"].iloc[0]
    assert released.auroc_mean < 0.5  # its scores were shifted the other way
    summary = summary[summary.variant == "corrected"]
    s = summary.set_index("model").loc["supn"]
    vals = runs[(runs.model == "supn") & (runs.variant == "corrected")].auroc
    assert s.auroc_mean == pytest.approx(vals.mean()) and s.auroc_std == pytest.approx(vals.std(ddof=1))
    assert s.n_seeds == 3 and summary.set_index("model").loc["padim"].backbone == "effnet"


def test_write_table4_roundtrip_keeps_empty_backbones(tmp_path):
    p = tmp_path / SCORES.format(variant="corrected", method="l2_sampled", seed=0)
    write_scores(p, 0, 1.0)
    write_table4([p], tmp_path / "t4.csv", tmp_path / "t4_runs.csv")
    back = pd.read_csv(tmp_path / "t4.csv")
    assert back.n_seeds.tolist() == [1] and np.isnan(back.auroc_std[0])
    assert back.backbone.isna().all()  # written empty


def test_table4_inputs_follow_the_config():
    cfg = {"cells": {"seeds": [0, 4], "variants": ["corrected", "released"]}, "mvtec": {"enabled": False}}
    assert len(vae_score_files(cfg["cells"])) == 24 == len(table4_inputs(cfg))
    assert "results/cells/scores/released/supn_restoration/seed4.csv" in table4_inputs(cfg)
    cfg["mvtec"] = {"enabled": True, "cells": {"enabled": True, "methods": ["spade"], "seeds": [0]}}
    assert table4_inputs(cfg)[-1] == "results/cells/scores/corrected/spade/seed0.csv"  # kNN: corrected only
    assert set(CELL_VAE_METHODS) == {f"{m}_{v}" for m in ("supn", "diag", "l2") for v in ("sampled", "restoration")}


def test_table_and_figures_do_not_import_torch(tmp_path):
    p = tmp_path / SCORES.format(variant="corrected", method="supn_sampled", seed=0)
    write_scores(p, 0, 1.0)
    rng = np.random.default_rng(0)
    panels = {k: rng.normal(size=(2, 128, 128)) for k in ("input", "mean", "supn_sample")}
    panels |= {k: rng.random((2, 128, 128)) for k in ("l2_map", "diag_map", "supn_map")}
    panels |= {"mask": rng.random((2, 128, 128)) > 0.5, "label": np.array([0, 1]), "name": np.array(["a", "b"])}
    np.savez(tmp_path / "panels.npz", **panels)
    code = f"""
import sys, numpy as np, pandas as pd
from anoloc.experiments.cells.tables import write_table4
from anoloc.plots import save_figure
from anoloc.plots.cells import fig4_maps, fig5_bars
write_table4([{str(p)!r}], {str(tmp_path / "t.csv")!r}, {str(tmp_path / "r.csv")!r})
save_figure(fig5_bars(pd.read_csv({str(tmp_path / "r.csv")!r})), {str(tmp_path / "fig5.png")!r})
z = np.load({str(tmp_path / "panels.npz")!r})
fig = fig4_maps({{k: z[k] for k in z.files}})
assert len(fig.axes) == 2 * 6 + 3, len(fig.axes)  # 2 cells x 6 panels + colour bars of the 3 maps
save_figure(fig, {str(tmp_path / "fig4.png")!r})
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "fig4.png").stat().st_size > 10_000 and (tmp_path / "fig5.pdf").exists()
