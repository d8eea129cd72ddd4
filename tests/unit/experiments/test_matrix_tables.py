"""The matrix evaluator on constructed score files: metrics against scikit-learn and brute force, the summary, and
the cells that coincide with the paper experiments equal table1, table2, table4 and table5 (small score files
written at the experiments' real layout paths)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from anoloc import variants
from anoloc.data import mvtec as mvtec_data
from anoloc.experiments.brain import tables as brain_tables
from anoloc.experiments.brain.layout import parse_score_file as parse_brain
from anoloc.experiments.cells import tables as cells_tables
from anoloc.experiments.matrix import layout as mx
from anoloc.experiments.matrix import tables as mxt
from anoloc.experiments.matrix.layout import Source
from anoloc.experiments.mnist import tables as mnist_tables
from anoloc.experiments.mnist.layout import parse_score_file as parse_mnist
from anoloc.experiments.mvtec import layout as mvtec_layout
from anoloc.experiments.mvtec import steps as mvtec_steps
from anoloc.experiments.mvtec import tables as mvtec_tables
from anoloc.io import save_npz, write_csv
from anoloc.scores.names import PIXEL_SCORES, SAMPLE_SCORES
from tests.helpers import ROOT
from tests.unit.experiments.test_matrix import demo_config

EVALUATE = {"diseased_min_voxels": 3, "aupro": True, "bootstrap": {"n_resamples": 200, "confidence": 0.95, "seed": 0}}


def _benchmark(path, seconds: float, rss: float) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t{rss}\n")


def _blob_masks(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    masks = np.zeros((n, size, size), bool)
    for i in range(n):
        if i % 3:  # every third image normal
            r, c = rng.integers(1, size - 5, 2)
            masks[i, r : r + rng.integers(2, 5), c : c + rng.integers(2, 5)] = True
    return masks


def _matrix_file(path, rng, n: int = 12, size: int = 8, tumour: bool = False) -> dict[str, np.ndarray]:
    masks = _blob_masks(rng, n, size)
    maps = rng.normal(0, 1, masks.shape).astype(np.float32) + 1.5 * masks
    label = masks.any((1, 2)).astype(np.int64)
    arrays = {
        "label": label,
        "group": np.array([f"img{i // 2}" for i in range(n)]),  # two images per group
        "mask": masks,
        "score__zscore": rng.normal(0, 1, n) + label,
        "map__zscore": maps,
        "adapter": np.array("gray, 8 (native), [0, 1]"),
        "params": np.array("{}"),
    }
    if tumour:
        arrays["tumour_voxels"] = masks.sum((1, 2))
    save_npz(path, arrays)
    return arrays


def _best_dice_brute(y: np.ndarray, v: np.ndarray) -> float:
    y, v = y.ravel().astype(bool), v.ravel()
    best = 0.0
    for t in np.r_[-np.inf, np.unique(v)]:
        p = v > t
        best = max(best, (2 * (p & y).sum() + 1e-6) / (p.sum() + y.sum() + 1e-6))
    return best


def _source(files, seed, dataset="mvtec", subset="brick", fit=(), score=()) -> Source:
    return Source("zscore", dataset, subset, seed, "matrix", "matrix", tuple(map(str, files)), "score__zscore",
                  "map__zscore", tuple(map(str, fit)), tuple(map(str, score)), "gray, 8 (native), [0, 1]")  # fmt: skip


def test_evaluate_matrix_files_against_sklearn_and_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    arrays, srcs = {}, []
    for seed in (0, 1):
        f = tmp_path / f"seed{seed}.npz"
        arrays[seed] = _matrix_file(f, rng)
        _benchmark(tmp_path / f"b{seed}.tsv", 10.0 + seed, 500.0 + seed)
        srcs.append(_source([f], seed, score=[tmp_path / f"b{seed}.tsv"]))
    runs, statistics = mxt.evaluate(srcs, EVALUATE)
    got = runs.set_index(["seed", "level", "metric"])["value"]
    for seed, a in arrays.items():
        assert got[(seed, "image", "auroc")] == pytest.approx(skm.roc_auc_score(a["label"], a["score__zscore"]))
        assert got[(seed, "image", "ap")] == pytest.approx(skm.average_precision_score(a["label"], a["score__zscore"]))
        y, v = a["mask"].ravel(), a["map__zscore"].ravel()
        assert got[(seed, "pixel", "auroc")] == pytest.approx(skm.roc_auc_score(y, v), abs=1e-12)
        assert got[(seed, "pixel", "ap")] == pytest.approx(skm.average_precision_score(y, v), abs=1e-12)
        assert got[(seed, "pixel", "dice")] == pytest.approx(_best_dice_brute(a["mask"], a["map__zscore"]))
        assert 0.0 < got[(seed, "pixel", "aupro")] <= 1.0
        assert (
            got[(seed, "cost", "score_seconds")] == 10.0 + seed and got[(seed, "cost", "peak_mem_mb")] == 500.0 + seed
        )
        assert np.isnan(got[(seed, "cost", "fit_seconds")])  # fitted inside the scoring job
    pix = runs[(runs["level"] == "pixel") & (runs["metric"] == "auroc")]
    assert set(pix["n_anomalous"]) == {int(arrays[0]["mask"].sum()), int(arrays[1]["mask"].sum())}
    na = [{"method": "vae_kl", "dataset": "mvtec", "level": "pixel", "reason": "no pixel map"}]
    summ = mxt.summary(runs, statistics, na, EVALUATE["bootstrap"]).set_index(["method", "level", "metric"])
    row = summ.loc[("zscore", "pixel", "auroc")]
    values = [got[(s, "pixel", "auroc")] for s in (0, 1)]
    assert row["mean"] == pytest.approx(np.mean(values)) and row["std"] == pytest.approx(np.std(values, ddof=1))
    assert row["ci_low"] < row["mean"] < row["ci_high"] and row["n_seeds"] == 2 and row["status"] == "ok"
    assert np.isnan(summ.loc[("zscore", "pixel", "aupro")]["ci_low"])  # no interval for AUPRO
    assert summ.loc[("vae_kl", "pixel", "dice")]["status"] == "not applicable"
    assert np.isnan(summ.loc[("vae_kl", "pixel", "auroc")]["mean"])  # never a silent zero


def test_subsets_average_per_seed_and_brain_slice_rule(tmp_path):
    rng = np.random.default_rng(1)
    a = _matrix_file(tmp_path / "a.npz", rng, tumour=True)
    _matrix_file(tmp_path / "b.npz", rng, tumour=True)
    _benchmark(tmp_path / "b.tsv", 1.0, 0.0)
    srcs = [
        _source([tmp_path / "a.npz"], 0, "brain", "all", score=[tmp_path / "b.tsv"]),
        _source([tmp_path / "b.npz"], 0, "mnist", "class1", score=[tmp_path / "b.tsv"]),
        _source([tmp_path / "a.npz"], 0, "mnist", "class2", score=[tmp_path / "b.tsv"]),
    ]
    evaluate = {**EVALUATE, "diseased_min_voxels": 5}
    runs, statistics = mxt.evaluate(srcs, evaluate)
    brain = runs[(runs["dataset"] == "brain") & (runs["metric"] == "auroc")].set_index("level")
    tv = a["tumour_voxels"]
    keep = (tv == 0) | (tv > 5)  # in-between slices are left out, as in table2
    assert keep.sum() < len(tv)
    assert brain.loc["slice", "n_normal"] + brain.loc["slice", "n_anomalous"] == keep.sum()
    assert brain.loc["slice", "value"] == pytest.approx(skm.roc_auc_score(tv[keep] > 5, a["score__zscore"][keep]))
    assert brain.loc["pixel", "n_anomalous"] == a["mask"].sum()  # every slice at the pixel level
    assert runs.loc[(runs["dataset"] == "brain") & (runs["level"] == "cost"), "value"].isna().sum() == 2  # fit, rss
    summ = mxt.summary(runs, statistics, [], EVALUATE["bootstrap"]).set_index(["dataset", "level", "metric"])
    subs = runs[(runs["dataset"] == "mnist") & (runs["level"] == "image") & (runs["metric"] == "auroc")]
    assert summ.loc[("mnist", "image", "auroc"), "mean"] == pytest.approx(subs["value"].mean())
    assert summ.loc[("mnist", "image", "auroc"), "n_subsets"] == 2


def test_write_tables_names_missing_inputs(tmp_path):
    src = _source([tmp_path / "nope.npz"], 0)
    with pytest.raises(Exception, match=r"nope\.npz"):
        mxt.write_tables([src.as_dict()], [], EVALUATE, tmp_path / "m.csv", tmp_path / "s.csv")


# ------------------------------------------------------------------------------ coinciding with table1–5
def _paper_config() -> dict:
    cfg = demo_config()
    cfg["mnist"]["held_out_classes"] = [0, 1]
    cfg["mnist"]["seeds"] = [123, 124]
    cfg["brain"]["seeds"] = [1, 2]
    cfg["cells"]["seeds"] = [0, 1]
    cfg["mvtec"]["cells"]["seeds"] = [0]
    cfg["mvtec"]["dataset"]["classes"] = ["brick"]
    cfg["mvtec"].update(preprocess={"resize": 64, "crop": 64, "pre_resize": None}, batch_size=4)
    cfg["mvtec"]["spade"]["k"] = 3
    cfg["mvtec"]["padim"]["d"] = 30
    cfg["mvtec"]["patchcore"].update(coreset_fraction=0.5, reweight_b=3)
    cfg["matrix"]["datasets"]["mnist"]["held_out_classes"] = None
    return cfg


def _write_paper_files(cfg: dict, rng: np.random.Generator) -> list[Source]:
    """Small score files of every paper cell, at the experiments' own paths (relative to the working folder)."""
    srcs = [s for s in mx.sources(cfg) if s.kind == "paper"]
    written: set[str] = set()
    mvtec_root = None
    for s in srcs:
        for b in (*s.fit, *s.score):
            _benchmark(b, float(rng.uniform(1, 9)), float(rng.uniform(100, 900)))
        f = s.files[0]
        if f in written:
            continue
        written.add(f)
        if s.reader == "mnist":
            cls = rng.integers(0, 10, 60)
            label = (cls == int(s.subset[5:])).astype(int)
            df = pd.DataFrame({"index": np.arange(60), "class": cls, "label": label})
            for k in SAMPLE_SCORES:
                df[k] = rng.normal(0, 1, 60) + label
            write_csv(df, f)
        elif s.reader == "brain":
            masks = _blob_masks(rng, 18, 12)
            arrays = {
                "label": masks,
                "brain_mask": np.ones_like(masks),
                "subject": np.repeat([f"s{i}" for i in range(6)], 3),
                "tumour_voxels": masks.sum((1, 2)),
                **{k: (rng.normal(0, 1, masks.shape) + masks).astype(np.float32) for k in PIXEL_SCORES},
                **{f"slice_{k}": rng.normal(0, 1, 18) + masks.any((1, 2)) for k in SAMPLE_SCORES},
            }
            save_npz(f, arrays)
        elif s.reader == "cells":
            label = np.r_[np.zeros(10, int), np.ones(8, int)]
            split = np.where(label == 1, "infected", "healthy_test")
            names = [f"{i:05d}.png" for i in range(18)]
            write_csv(pd.DataFrame({"split": split, "name": names, "label": label,
                                    "score": rng.normal(0, 1, 18) + label, "backbone": ""}), f)  # fmt: skip
        elif s.reader == "mvtec":
            if mvtec_root is None:
                mvtec_root = "data"
                mvtec_data.write_synthetic(mvtec_root, classes=["brick"], n_train=6, n_test_good=3,
                                           n_test_per_defect=2, tile=64, seed=1)  # fmt: skip
            knn = mvtec_layout.knn_section(cfg["mvtec"], s.method)
            result = mvtec_steps.evaluate_class(mvtec_root, s.subset, knn, cfg["mvtec"]["seed"], 1, device="cpu")
            metrics = f.replace("/scores/", "/metrics/").replace(".csv", ".json")
            mvtec_steps.write_class_result(result, f, metrics, f.replace(".csv", "_panels.npz"), s.files[1])
    return srcs


@pytest.mark.slow  # three kNN fits on a tiny MVTec class with the real backbone (~10 s)
def test_coinciding_cells_equal_the_paper_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _paper_config()
    srcs = _write_paper_files(cfg, np.random.default_rng(2))
    evaluate = mx.evaluate_section(cfg)
    runs, _ = mxt.evaluate(srcs, evaluate)
    m = runs.set_index(["method", "dataset", "subset", "level", "metric", "seed"])["value"]

    # table1: KL / Rec / ELBO of the FC VAE, per held-out class and seed
    mnist_files = sorted({s.files[0] for s in srcs if s.reader == "mnist"})
    t1 = mnist_tables.table1([(*parse_mnist(p), p) for p in mnist_files])
    assert len(t1) == 2 * 2 * 3
    for r in t1.itertuples():
        for metric in ("auroc", "ap"):
            assert m[(f"vae_{r.score}", "mnist", f"class{r.held_out_class}", "image", metric, r.seed)] == getattr(
                r, metric
            )

    # table2: the five pixel maps and three slice scores of the brain conv VAE (code variant corrected)
    brain_files = sorted({s.files[0] for s in srcs if s.reader == "brain"})
    ev = {"corrected": variants.apply("brain", cfg["brain"], "corrected")["evaluate"]}
    t2 = brain_tables.table2([(*parse_brain(p), p) for p in brain_files], ev)
    for r in t2.itertuples():
        level = "pixel" if r.level == "pixel" else "slice"
        pairs = [("auroc", r.auroc), ("ap", r.ap)] + ([("dice", r.dice_oracle)] if level == "pixel" else [])
        for metric, value in pairs:
            assert m[(f"vae_{r.score}", "brain", "all", level, metric, r.seed)] == pytest.approx(value, rel=1e-12), (
                r.score, level, metric)  # fmt: skip
    assert len(t2) == 2 * (5 + 3)

    # table4: SUPN / diag / L2 × restoration / sampled and the kNN rows, per seed
    cell_files = sorted({s.files[0] for s in srcs if s.reader == "cells"})
    t4 = cells_tables.table4_runs(cell_files)
    for r in t4.itertuples():
        method = f"{r.model}_{r.inference}" if r.inference else r.model
        for metric in ("auroc", "ap"):
            assert m[(method, "cells", "all", "cell", metric, r.seed)] == getattr(r, metric)
    assert len(t4) == 6 * 2 + 3

    # table5: image and pixel AUROC and AUPRO of SPADE / PaDiM / PatchCore per class
    metric_files = [f"results/mvtec/metrics/brick/{k}.json" for k in ("spade", "padim", "patchcore")]
    t5 = mvtec_tables.table5(metric_files, ROOT / mvtec_layout.REFERENCE)
    for r in t5[t5["class"] == "brick"].itertuples():
        seed = cfg["mvtec"]["seed"]
        assert m[(r.method, "mvtec", "brick", "image", "auroc", seed)] == pytest.approx(r.image_auroc, rel=1e-12)
        assert m[(r.method, "mvtec", "brick", "pixel", "auroc", seed)] == pytest.approx(r.pixel_auroc, rel=1e-9)
        assert m[(r.method, "mvtec", "brick", "pixel", "aupro", seed)] == pytest.approx(r.aupro, rel=1e-12)
        record = json.loads(Path(f"results/mvtec/metrics/brick/{r.method}.json").read_text())
        assert record["n_test_anomalous"] > 0


# --------------------------------------------------------------------------------------------- figures
def _summary_frame() -> pd.DataFrame:
    rows = []
    values = {("spade", "mnist", "image"): 0.9, ("zscore", "mnist", "image"): 0.6, ("nearest", "mnist", "image"): 0.9,
              ("spade", "brain", "pixel"): 0.8, ("zscore", "brain", "pixel"): 0.95}  # fmt: skip
    for (m, d, lv), v in values.items():
        rows.append({"method": m, "dataset": d, "level": lv, "metric": "auroc", "status": "ok", "mean": v})
    rows.append({"method": "vae_kl", "dataset": "brain", "level": "pixel", "metric": "auroc",
                 "status": mxt.NOT_APPLICABLE, "mean": np.nan})  # fmt: skip
    rows.append({"method": "spade", "dataset": "mnist", "level": "image", "metric": "ap", "status": "ok", "mean": 0.1})
    return pd.DataFrame(rows)


def test_fig7_grid_ranks_and_figures(tmp_path):
    from scipy.stats import rankdata

    from anoloc.plots import save_figure
    from anoloc.plots.matrix import auroc_grid, fig7, fig7_ranks, ranks

    summary = _summary_frame()
    values, na = auroc_grid(summary)
    assert list(values.columns) == ["MNIST (image)", "Brain (pixel)"]
    assert list(values.index) == ["vae_kl", "spade", "zscore", "nearest"]  # catalogue order
    assert na.loc["vae_kl", "Brain (pixel)"] and not na.loc["spade", "Brain (pixel)"]
    assert np.isnan(values.loc["nearest", "Brain (pixel)"]) and not na.loc["nearest", "Brain (pixel)"]  # not run
    r = ranks(values)
    col = values["MNIST (image)"].dropna()
    np.testing.assert_array_equal(r.loc[col.index, "MNIST (image)"], rankdata(-col.to_numpy()))  # ties share 1.5
    assert r.loc["zscore", "mean rank"] == pytest.approx((3 + 1) / 2) and r.index[0] == "nearest"  # 1.5 on one column
    # the re-read summary (as the figure job reads it) keeps the status of n/a cells
    write_csv(summary, tmp_path / "s.csv")
    again = pd.read_csv(tmp_path / "s.csv")
    assert auroc_grid(again)[1].loc["vae_kl", "Brain (pixel)"]
    for fig, name in ((fig7(again), "fig7"), (fig7_ranks(again), "fig7_ranks")):
        save_figure(fig, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 0 and (tmp_path / f"{name}.pdf").exists()
