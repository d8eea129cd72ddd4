"""MVTec / cells experiment code: one (class, method) evaluation with the real offline backbone, table5 with
the reference numbers, fig6, the cells scoring, and the torch-free modules used by the rules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from anoloc import mvtec_paths
from anoloc.data import mvtec as mvtec_data
from anoloc.experiments import mvtec as exp

SMALL = {
    "backbone": {"name": "efficientnet_lite0"},
    "preprocess": {"resize": 64, "crop": 64, "pre_resize": None},
    "batch_size": 4,
    "seed": 0,
    "spade": {"k": 3},
    "padim": {"d": 30},
    "patchcore": {"coreset_fraction": 0.5, "reweight_b": 3},
    "aupro": True,
    "figure": {"n_examples": 2},
}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec")
    mvtec_data.write_synthetic(root, classes=["brick"], n_train=6, n_test_good=3, n_test_per_defect=2, tile=64, seed=1)
    return root


@pytest.fixture(scope="module")
def results(tiny_root):
    return {m: exp.evaluate_class(tiny_root, "brick", m, SMALL, device="cpu") for m in ("spade", "padim", "patchcore")}


def test_evaluate_class_outputs(results, tmp_path):
    for method, r in results.items():
        m = r.metrics
        assert m["method"] == method and m["class"] == "brick"
        assert m["backbone"] == "efficientnet_lite0:efficientnet-lite0-57934424"
        assert (m["n_train"], m["n_test_good"], m["n_test_anomalous"]) == (6, 3, 6)
        for k in ("image_auroc", "pixel_auroc", "aupro"):
            assert 0.0 <= m[k] <= 1.0, (method, k)
        assert list(r.scores.columns) == exp.SCORE_COLUMNS and len(r.scores) == 9
        assert r.scores["label"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
        assert (r.scores["backbone"] == m["backbone"]).all()
        ex = r.examples
        assert ex["images"].shape == (2, 64, 64, 3) and ex["maps"].shape == (2, 64, 64) and ex["masks"].any()
        assert list(ex["names"]) == ["contrast/000", "hole/000"]  # one per defect type
        assert ex["vmin"] < ex["vmax"]
    exp.write_class_result(results["padim"], tmp_path / "s.csv", tmp_path / "m.json", tmp_path / "e.npz")
    assert pd.read_csv(tmp_path / "s.csv").shape == (9, 5)
    assert json.loads((tmp_path / "m.json").read_text())["params"]["d"] == 30


def test_fig6_from_examples(results, tmp_path):
    from anoloc.plots import save_figure
    from anoloc.plots.mvtec import fig6, load_examples

    paths = []
    for method, r in results.items():
        paths.append(tmp_path / f"{method}.npz")
        exp.save_npz(r.examples, paths[-1])
    fig = fig6(load_examples(paths), ["spade", "padim", "patchcore"])
    assert len(fig.axes) == 4 * 2
    assert fig.axes[0].get_title() == "brick\ncontrast/000"
    save_figure(fig, tmp_path / "fig6.png")
    assert (tmp_path / "fig6.png").stat().st_size > 1000 and (tmp_path / "fig6.pdf").exists()


def _metrics(tmp_path, classes):
    files = []
    for i, c in enumerate(classes):
        for method in ("spade", "padim", "patchcore"):
            f = tmp_path / f"{c}_{method}.json"
            metrics = {"class": c, "method": method, "backbone": "b", "image_auroc": 0.5 + 0.01 * i}
            metrics |= {"pixel_auroc": 0.9, "aupro": 0.8, "n_train": 10, "n_test_good": 2, "n_test_anomalous": 3}
            metrics |= {"fit_seconds": 1.0, "predict_seconds": 2.0}
            f.write_text(json.dumps(metrics))
            files.append(f)
    return files


def test_reference_numbers_are_the_spec_values():
    ref = exp.load_reference(mvtec_paths.MVTEC_REFERENCE).set_index(["class", "method"])
    assert len(ref) == 16 * 3
    assert ref.loc[("grid", "spade"), "ref_image_auroc_repo"] == pytest.approx(0.371)
    assert ref.loc[("zipper", "patchcore"), "ref_pixel_auroc_repo"] == pytest.approx(0.976)
    assert ref.loc[("bottle", "padim"), "ref_aupro_paper"] == pytest.approx(0.948)
    assert ref.loc[("average", "padim"), "ref_image_auroc_paper"] == pytest.approx(0.953)
    assert np.isnan(ref.loc[("bottle", "spade"), "ref_image_auroc_paper"])
    values = ref.to_numpy(dtype=float)
    assert np.nanmin(values) > 0.3 and np.nanmax(values) <= 1.0
    # averages of the per-class "repo" columns agree with the published averages (rounding)
    for method in ("spade", "padim", "patchcore"):
        per_class = ref.drop(index="average", level="class").xs(method, level="method")
        for col in ("ref_image_auroc_repo", "ref_pixel_auroc_repo"):
            assert per_class[col].mean() == pytest.approx(ref.loc[("average", method), col], abs=0.0015)


def test_table5_real_and_demo_classes(tmp_path):
    t = exp.table5(_metrics(tmp_path, mvtec_data.MVTEC_CLASSES), mvtec_paths.MVTEC_REFERENCE)
    assert list(t.columns) == exp.TABLE5_COLUMNS and len(t) == 16 * 3
    avg = t[t["class"] == "average"].set_index("method")
    assert avg.loc["patchcore", "ref_image_auroc_repo"] == pytest.approx(0.977)
    assert avg.loc["spade", "image_auroc"] == pytest.approx(np.mean(0.5 + 0.01 * np.arange(15)))
    assert avg.loc["spade", "n_train"] == 150
    assert t.iloc[-1]["class"] == "average" and t.iloc[0]["class"] == "bottle"
    bottle = t[(t["class"] == "bottle") & (t["method"] == "patchcore")].iloc[0]
    assert bottle["ref_image_auroc_paper"] == 1.0 and bottle["ref_pixel_auroc_paper"] == pytest.approx(0.986)

    demo = exp.table5(_metrics(tmp_path, ["brick", "grass"]), mvtec_paths.MVTEC_REFERENCE)
    assert set(demo["class"]) == {"brick", "grass", "average (2 classes)"}
    assert demo.filter(like="ref_").isna().all().all()


def test_score_cell_arrays(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128]
    disc = ((yy - 64) ** 2 + (xx - 64) ** 2 < 35**2).astype(float)

    def cells(n, infected):
        imgs = 150 * disc + rng.normal(0, 8, size=(n, 128, 128))
        if infected:
            imgs[:, 55:65, 60:70] = 254
        return np.clip(imgs, 0, 254).astype(np.uint8)

    cfg = {**SMALL, "preprocess": {"resize": 64, "crop": 56, "pre_resize": None}}
    tests = {"healthy_test": (cells(3, False), ["a.png", "b.png", "c.png"]), "infected": (cells(3, True), list("def"))}
    df = exp.score_cell_arrays(cells(8, False), tests, "patchcore", cfg, seed=0, device="cpu")
    assert list(df.columns) == exp.CELL_COLUMNS
    assert df["label"].tolist() == [0, 0, 0, 1, 1, 1] and df["split"].iloc[-1] == "infected"
    assert df[df.label == 1]["score"].min() > df[df.label == 0]["score"].max()

    cells_mod = pytest.importorskip("anoloc.data.cells")

    def split(n, infected):
        return cells_mod.CellSplit(cells(n, infected), np.ones((n, 128, 128), bool), [f"{i:05d}.png" for i in range(n)])

    splits = {"healthy_train": split(5, False), "healthy_test": split(2, False), "infected": split(2, True)}
    cells_mod.save_prepared(splits, tmp_path / "cells.npz")
    df = exp.score_cells(tmp_path / "cells.npz", "spade", cfg, seed=1, n_train=4, device="cpu")
    assert df["name"].tolist() == ["00000.png", "00001.png"] * 2
    assert df["label"].tolist() == [0, 0, 1, 1]


def test_rule_modules_do_not_import_torch():
    code = (
        "import sys, anoloc.mvtec_paths, anoloc.experiments.mvtec, anoloc.plots.mvtec, anoloc.data.mvtec; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paths_and_targets():
    cfg = {
        "enabled": True,
        "dataset": {"source": "download", "classes": ["bottle", "cable", "wood", "zipper"]},
        "backbone": {"name": "wide_resnet50_2"},
        "methods": ["spade", "patchcore"],
        "figure": {"n_examples": 1},
    }
    assert mvtec_paths.archive_path(cfg) == "resources/mvtec/mvtec_anomaly_detection.tar.xz"
    assert mvtec_paths.weights_file(cfg) == "resources/weights/wide_resnet50_2-95faca4d.pth"
    assert len(mvtec_paths.metrics_files(cfg)) == 8
    assert mvtec_paths.figure_classes(cfg) == ["bottle", "cable", "wood"]
    assert len(mvtec_paths.example_files(cfg)) == 6
    assert mvtec_paths.mvtec_targets(cfg) == ["results/tables/table5.csv", *mvtec_paths.FIG6]
    cfg["backbone"] = {"name": "efficientnet_lite0"}
    assert mvtec_paths.weights_inputs(cfg) == []
