"""MVTec experiment code: one (class, method) evaluation with the real offline backbone, table5 with the reference
numbers, fig6, the kNN pipeline on arrays and on the cells, and the torch-free modules used by the rules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from anoloc.data import mvtec as mvtec_data
from anoloc.experiments.cells import steps as cells_steps
from anoloc.experiments.mvtec import layout as mvtec_layout
from anoloc.experiments.mvtec import steps as exp
from anoloc.experiments.mvtec import tables as mvtec_tables
from anoloc.io import save_npz
from anoloc.knn.pipeline import fit_score_arrays
from tests.helpers import section

SMALL = section(
    "mvtec",
    backbone={"name": "efficientnet_lite0"},
    preprocess={"resize": 64, "crop": 64, "pre_resize": None},
    batch_size=4,
    spade={"k": 3},
    padim={"d": 30},
    patchcore={"coreset_fraction": 0.5, "reweight_b": 3},
)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec")
    mvtec_data.write_synthetic(root, classes=["brick"], n_train=6, n_test_good=3, n_test_per_defect=2, tile=64, seed=1)
    return root


@pytest.fixture(scope="module")
def results(tiny_root):
    return {
        m: exp.evaluate_class(tiny_root, "brick", mvtec_layout.knn_section(SMALL, m), 0, 2, device="cpu")
        for m in ("spade", "padim", "patchcore")
    }


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
        save_npz(paths[-1], r.examples)
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
    ref = mvtec_tables.load_reference(mvtec_layout.REFERENCE).set_index(["class", "method"])
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
    t = mvtec_tables.table5(_metrics(tmp_path, mvtec_data.MVTEC_CLASSES), mvtec_layout.REFERENCE)
    assert list(t.columns) == mvtec_tables.TABLE5_COLUMNS and len(t) == 16 * 3
    avg = t[t["class"] == "average"].set_index("method")
    assert avg.loc["patchcore", "ref_image_auroc_repo"] == pytest.approx(0.977)
    assert avg.loc["spade", "image_auroc"] == pytest.approx(np.mean(0.5 + 0.01 * np.arange(15)))
    assert avg.loc["spade", "n_train"] == 150
    assert t.iloc[-1]["class"] == "average" and t.iloc[0]["class"] == "bottle"
    bottle = t[(t["class"] == "bottle") & (t["method"] == "patchcore")].iloc[0]
    assert bottle["ref_image_auroc_paper"] == 1.0 and bottle["ref_pixel_auroc_paper"] == pytest.approx(0.986)

    demo = mvtec_tables.table5(_metrics(tmp_path, ["brick", "grass"]), mvtec_layout.REFERENCE)
    assert set(demo["class"]) == {"brick", "grass", "average (2 classes)"}
    assert demo.filter(like="ref_").isna().all().all()


def test_knn_pipeline_on_arrays_and_cells(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128]
    disc = ((yy - 64) ** 2 + (xx - 64) ** 2 < 35**2).astype(float)

    def cells(n, infected):
        imgs = 150 * disc + rng.normal(0, 8, size=(n, 128, 128))
        if infected:
            imgs[:, 55:65, 60:70] = 254
        return np.clip(imgs, 0, 254).astype(np.uint8)

    cfg = {**SMALL, "preprocess": {"resize": 64, "crop": 56, "pre_resize": None}}
    knn = mvtec_layout.knn_section(cfg, "patchcore")
    _, (healthy, infected) = fit_score_arrays(knn, cells(8, False), [cells(3, False), cells(3, True)], 0, device="cpu")
    assert healthy.shape == infected.shape == (3,)
    assert infected.min() > healthy.max()

    cells_mod = pytest.importorskip("anoloc.data.cells")

    def split(n, infected):
        return cells_mod.CellSplit(cells(n, infected), np.ones((n, 128, 128), bool), [f"{i:05d}.png" for i in range(n)])

    splits = {"healthy_train": split(5, False), "healthy_test": split(2, False), "infected": split(2, True)}
    cells_mod.save_prepared(splits, tmp_path / "cells.npz")
    knn = mvtec_layout.knn_section(cfg, "spade")
    df = cells_steps.score_knn(tmp_path / "cells.npz", knn, seed=1, n_train=4, device="cpu")
    assert list(df.columns) == ["split", "name", "label", "score", "backbone"]
    assert df["name"].tolist() == ["00000.png", "00001.png"] * 2
    assert df["label"].tolist() == [0, 0, 1, 1] and df["split"].iloc[-1] == "infected"


def test_rule_modules_do_not_import_torch():
    code = (
        "import sys, anoloc.experiments.mvtec.layout, anoloc.experiments.mvtec.tables, anoloc.plots.mvtec; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paths_and_targets():
    cfg = section(
        "mvtec",
        enabled=True,
        dataset={"source": "download", "classes": ["bottle", "cable", "wood", "zipper"]},
        backbone={"name": "wide_resnet50_2"},
        preprocess={"resize": 256, "crop": 224},
        methods=["spade", "patchcore"],
        figure={"n_examples": 1},
    )
    assert mvtec_layout.archive_path(cfg) == "resources/mvtec/mvtec_anomaly_detection.tar.xz"
    assert mvtec_layout.weights_inputs(cfg) == ["resources/weights/wide_resnet50_2-95faca4d.pth"]
    assert mvtec_layout.metrics_files(cfg)[:2] == [
        "results/mvtec/metrics/bottle/spade.json",
        "results/mvtec/metrics/bottle/patchcore.json",
    ]
    assert len(mvtec_layout.metrics_files(cfg)) == 8
    assert mvtec_layout.figure_classes(cfg) == ["bottle", "cable", "wood"]
    assert len(mvtec_layout.panel_files(cfg)) == 6
    assert mvtec_layout.targets(cfg) == ["results/tables/table5.csv", *mvtec_layout.FIG6]
    section_ = mvtec_layout.knn_section(cfg, "patchcore")
    assert section_["method"] == "patchcore" and section_["params"] == cfg["patchcore"] and "spade" not in section_
    cfg["backbone"] = {"name": "efficientnet_lite0"}
    assert mvtec_layout.weights_inputs(cfg) == []
