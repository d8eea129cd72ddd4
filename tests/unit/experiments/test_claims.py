"""The claims ledger: every claim function on constructed score files and tables — a clear win, a clear loss, a tie,
missing data → not measured — checked against independent computations (scikit-learn metrics, brute-force counts,
textbook formulas); the layout's inputs follow the enabled experiments."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from anoloc import paths
from anoloc.config import apply_schema_defaults
from anoloc.data.mvtec import MVTEC_CLASSES
from anoloc.experiments.brain import layout as brain_layout
from anoloc.experiments.cells import layout as cells_layout
from anoloc.experiments.claims import layout, tables
from anoloc.experiments.mnist import layout as mnist_layout
from anoloc.experiments.mvtec import layout as mvtec_layout
from anoloc.scores.names import PIXEL_SCORES
from anoloc.verdicts import INCONCLUSIVE, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED
from tests.helpers import ROOT, section

CFG = section("claims", n_resamples=400, seed=0)


def demo_config() -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    apply_schema_defaults(cfg, ROOT / "config" / "schema.yaml")
    return cfg


def context(**enabled: bool) -> dict:
    """The ledger context of the demo config with experiments switched on / off; one variant each."""
    cfg = demo_config()
    for exp, on in enabled.items():
        cfg[exp]["enabled"] = on
    cfg["mnist"]["variants"] = ["corrected"]
    return layout.context(cfg)


def only_rows(rows: list[dict], **match) -> dict:
    sel = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(sel) == 1, sel
    return sel[0]


# ======================================================================================= (Fashion)MNIST
def write_mnist(root, held_out, z, log_c, seed, y, kl, rec, elbo, variant="corrected"):
    run = mnist_layout.run_id(mnist_layout.RunParams(z, log_c, 1, seed))
    path = root / paths.fill(
        mnist_layout.SCORES, variant=variant, dataset="mnist", held_out=held_out, run=run, seed=seed
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"label": y, "kl": kl, "rec": rec, "elbo": elbo}).to_csv(path, index=False)
    return path


def _labels(n=200, n_pos=40):
    return np.r_[np.zeros(n - n_pos, int), np.ones(n_pos, int)]


def _informative(y, rng, strength=2.0):
    return strength * y + rng.normal(size=y.size)


def mnist_files(tmp_path, winner_per_cell, settings=((20, 0.0),), classes=range(6), seeds=(1,)):
    """One score file per (class, setting, seed); `winner_per_cell(k, z, log_c)` ∈ {kl, rec, tie} says which score
    carries the signal (tie: KL, ELBO and Rec are the same noise)."""
    rng = np.random.default_rng(0)
    y, files = _labels(), []
    for k in classes:
        for z, log_c in settings:
            for s in seeds:
                win = winner_per_cell(k, z, log_c)
                noise = rng.normal(size=y.size)
                kl = _informative(y, rng) if win == "kl" else noise
                rec = _informative(y, rng) if win == "rec" else noise
                elbo = noise if win == "tie" else rng.normal(size=y.size)
                files.append(write_mnist(tmp_path, k, z, log_c, s, y, kl, rec, elbo))
    return files


def test_mnist_cells_match_sklearn(tmp_path):
    files = mnist_files(tmp_path, lambda k, z, c: "kl", classes=[0, 3], seeds=(1, 2))
    cells = tables.mnist_cells(files)
    assert len(cells) == 2 and set(cells["seeds"]) == {"1 2"}
    for _, c in cells.iterrows():
        frames = [pd.read_csv(f) for f in files if f"class{c.held_out_class}/" in str(f)]
        auc_of = {s: np.mean([roc_auc_score(df["label"], df[s]) for df in frames]) for s in ("kl", "rec", "elbo")}
        assert c["auroc_kl"] == pytest.approx(auc_of["kl"]) and c["auroc_rec"] == pytest.approx(auc_of["rec"])
        assert c["d_kl"] == pytest.approx(auc_of["kl"] - auc_of["rec"])
        assert c["d_elbo"] == pytest.approx(auc_of["elbo"] - auc_of["rec"])


def test_mnist_cells_refuse_seeds_with_different_test_sets(tmp_path):
    files = mnist_files(tmp_path, lambda k, z, c: "kl", classes=[0], seeds=(1, 2))
    df = pd.read_csv(files[1])
    df["label"] = df["label"].to_numpy()[::-1]
    df.to_csv(files[1], index=False)
    with pytest.raises(Exception, match="labels differ"):
        tables.mnist_cells(files)


@pytest.mark.parametrize(
    ("winner", "verdict"),
    [
        (lambda k, z, c: "kl", REPRODUCED),
        (lambda k, z, c: "rec", NOT_REPRODUCED),
        (lambda k, z, c: "kl" if k % 2 else "rec", INCONCLUSIVE),  # half the cells each way: a tie
    ],
    ids=["win", "loss", "tie"],
)
def test_kl_elbo_beat_rec(tmp_path, winner, verdict):
    files = mnist_files(tmp_path, winner)
    ev = tables.Evidence(mnist=tables.mnist_cells(files))
    row = only_rows(tables.kl_elbo_beat_rec(ev, context(), CFG), variant="corrected")
    # brute force: cells where the better of KL / ELBO has a higher AUROC than Rec (scikit-learn)
    won = 0
    for f in files:
        df = pd.read_csv(f)
        a = {s: roc_auc_score(df["label"], df[s]) for s in ("kl", "rec", "elbo")}
        won += max(a["kl"], a["elbo"]) > a["rec"]
    assert row["effect"] == pytest.approx(won / len(files)) and row["n"] == len(files)
    ci = sps.binomtest(won, len(files)).proportion_ci(0.95, method="exact")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row["verdict"] == verdict, row["reason"]
    assert f"won {won}/{len(files)}" in row["reason"]


def test_mnist_claims_not_measured_without_runs():
    rows = [
        r
        for fn in (tables.kl_elbo_beat_rec, tables.kl_beats_rec_logc, tables.rec_wins_when_constrained)
        for r in fn(tables.Evidence(), context(mnist=False), CFG)
    ]
    assert rows and all(r["verdict"] == NOT_MEASURED and "mnist.enabled is false" in r["reason"] for r in rows)
    assert all(math.isnan(r["effect"]) for r in rows)


@pytest.mark.parametrize(("winner", "verdict"), [("kl", REPRODUCED), ("rec", NOT_REPRODUCED), ("tie", INCONCLUSIVE)])
def test_kl_beats_rec_at_log_c_1_4(tmp_path, winner, verdict):
    settings = ((20, 0.0), (20, 1.4))
    files = mnist_files(tmp_path, lambda k, z, c: winner if c == 1.4 else "rec", settings=settings, classes=[0, 1])
    ev = tables.Evidence(mnist=tables.mnist_cells(files))
    row = only_rows(tables.kl_beats_rec_logc(ev, context(), CFG), variant="corrected")
    diffs = []
    for f in files:
        if "logc1.4" in str(f):
            df = pd.read_csv(f)
            diffs.append(roc_auc_score(df["label"], df["kl"]) - roc_auc_score(df["label"], df["rec"]))
    assert row["effect"] == pytest.approx(np.mean(diffs))  # equal-weight mean over the two classes
    assert row["verdict"] == verdict, row["reason"]


def test_kl_beats_rec_not_measured_without_log_c_1_4(tmp_path):
    ev = tables.Evidence(mnist=tables.mnist_cells(mnist_files(tmp_path, lambda k, z, c: "kl")))
    row = only_rows(tables.kl_beats_rec_logc(ev, context(), CFG), variant="corrected")
    assert row["verdict"] == NOT_MEASURED and "mnist.sweep.log_c" in row["reason"]


def test_rec_wins_when_constrained(tmp_path):
    settings = ((2, 0.0), (5, 0.0), (20, 0.0), (50, 0.0))
    files = mnist_files(tmp_path, lambda k, z, c: "rec" if z <= 5 else "kl", settings=settings, classes=[0, 1, 2])
    ev = tables.Evidence(mnist=tables.mnist_cells(files))
    row = only_rows(tables.rec_wins_when_constrained(ev, context(), CFG), variant="corrected")
    adv = {True: [], False: []}
    for f in files:
        df = pd.read_csv(f)
        a = {s: roc_auc_score(df["label"], df[s]) for s in ("kl", "rec", "elbo")}
        z = int(str(f).split("/z")[1].split("_")[0])
        adv[z <= tables.CONSTRAINED_Z].append(a["rec"] - max(a["kl"], a["elbo"]))
    assert row["effect"] == pytest.approx(np.mean(adv[True]) - np.mean(adv[False]))
    assert row["verdict"] == REPRODUCED, row["reason"]
    assert "Rec beats both KL and ELBO in 6/6 cells with z ≤ 5 and 0/6 others" in row["reason"]


def test_rec_wins_when_constrained_loss_and_missing(tmp_path):
    settings = ((2, 0.0), (20, 0.0))
    files = mnist_files(tmp_path, lambda k, z, c: "kl" if z <= 5 else "rec", settings=settings, classes=[0, 1, 2])
    ev = tables.Evidence(mnist=tables.mnist_cells(files))
    assert tables.rec_wins_when_constrained(ev, context(), CFG)[0]["verdict"] == NOT_REPRODUCED
    ev = tables.Evidence(mnist=ev.mnist[ev.mnist["z"] > 5])
    row = tables.rec_wins_when_constrained(ev, context(), CFG)[0]
    assert row["verdict"] == NOT_MEASURED and "mnist.sweep.z" in row["reason"]


# =============================================================================================== BraTS
def write_brain(tmp_path, strong, z=256, seed=123, n_patients=12, slices=3, side=8, as_rec=()):
    """A BraTS score file whose `strong` scores carry the tumour signal (those in `as_rec` are copies of Rec: exact
    ties); its table2 oracle thresholds (all 1.0)."""
    rng = np.random.default_rng(z + seed)
    label = np.zeros((n_patients * slices, side, side), bool)
    label[:, 2:5, 2:5] = rng.random((n_patients * slices, 3, 3)) < 0.8
    subject = np.repeat([f"pat{i:02d}" for i in range(n_patients)], slices)
    maps = {k: (2.0 * label if k in strong else 0) + rng.normal(size=label.shape) for k in PIXEL_SCORES}
    maps |= {k: maps["rec"] for k in as_rec}
    run = brain_layout.run_id(brain_layout.BrainRun(z, 0.0, 1.0, seed))
    path = tmp_path / paths.fill(brain_layout.SCORES_BRATS, variant="corrected", cohort="synthetic", run=run, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, label=label, subject=subject, **{k: v.astype(np.float32) for k, v in maps.items()})
    t2 = [
        {"variant": "corrected", "z": z, "log_c": 0.0, "width": 1.0, "seed": seed, "level": "pixel", "score": k}
        | {"threshold_oracle": 1.0}
        for k in PIXEL_SCORES
    ]
    return path, t2


def brain_evidence(tmp_path, strong, zs=(256, 64), as_rec=()):
    files, t2 = [], []
    for z in zs:
        f, rows = write_brain(tmp_path, strong, z=z, as_rec=as_rec)
        files.append(f)
        t2 += rows
    pd.DataFrame(t2).to_csv(tmp_path / "table2.csv", index=False)
    return files, tables.brain_comparisons(files, tmp_path / "table2.csv", n_resamples=200, seed=0)


def test_brain_comparisons_match_sklearn_and_a_dense_dice(tmp_path):
    files, comp = brain_evidence(tmp_path, strong={"kl_grad", "combi"}, zs=(256,))
    with np.load(files[0]) as f:
        y, m = f["label"].ravel(), {k: f[k].ravel() for k in PIXEL_SCORES}
    row = comp.set_index(["metric", "comparison"])
    assert row.loc[("auroc", "kl_grad-rec"), "estimate"] == pytest.approx(
        roc_auc_score(y, m["kl_grad"]) - roc_auc_score(y, m["rec"])
    )
    assert row.loc[("ap", "combi-rec"), "estimate"] == pytest.approx(
        average_precision_score(y, m["combi"]) - average_precision_score(y, m["rec"])
    )

    def dice(s):
        p = s > 1.0
        return (2 * (p & y).sum() + 1e-6) / (p.sum() + y.sum() + 1e-6)

    assert row.loc[("dice", "elbo_grad-rec"), "estimate"] == pytest.approx(dice(m["elbo_grad"]) - dice(m["rec"]))
    best = max(roc_auc_score(y, m[k]) for k in ("kl_grad", "combi"))
    rest = max(roc_auc_score(y, m[k]) for k in ("rec", "elbo_grad", "rec_grad"))
    assert row.loc[("auroc", "best"), "estimate"] == pytest.approx(best - rest)
    assert set(comp["n_patients"]) == {12}


@pytest.mark.parametrize(
    ("strong", "as_rec", "verdict_rec", "verdict_best"),
    [
        ({"elbo_grad", "kl_grad", "rec_grad", "combi"}, (), REPRODUCED, INCONCLUSIVE),  # no clear best of the four
        # KL-Grad and Combi win, ELBO-Grad and Rec-Grad equal Rec: half the cells won (a tie)
        ({"kl_grad", "combi"}, ("elbo_grad", "rec_grad"), INCONCLUSIVE, REPRODUCED),
        ({"rec", "elbo_grad"}, (), NOT_REPRODUCED, NOT_REPRODUCED),  # Rec (and ELBO-Grad) win everything
    ],
    ids=["others-win", "klgrad-combi-best", "rec-wins"],
)
def test_brats_most_cases_claims(tmp_path, strong, as_rec, verdict_rec, verdict_best):
    _, comp = brain_evidence(tmp_path, strong, as_rec=as_rec)
    ev = tables.Evidence(brain=comp)
    rec = only_rows(tables.brats_rec_outperformed(ev, context(), CFG), variant="corrected")
    best = only_rows(tables.brats_klgrad_combi_best(ev, context(), CFG), variant="corrected")
    others = comp[comp["comparison"] != "best"]
    assert rec["n"] == len(others) == 2 * 4 * 3 and rec["effect"] == pytest.approx((others["estimate"] > 0).mean())
    assert best["n"] == 2 * 3
    assert rec["verdict"] == verdict_rec, rec["reason"]
    if verdict_best != INCONCLUSIVE:  # with four equally strong scores the best is a coin toss
        assert best["verdict"] == verdict_best, best["reason"]


def test_brats_claims_not_measured_when_disabled():
    for fn in (tables.brats_rec_outperformed, tables.brats_klgrad_combi_best, tables.brats_calibrated_dice):
        row = fn(tables.Evidence(), context(brain=False), CFG)[0]
        assert row["verdict"] == NOT_MEASURED and "brain.enabled is false" in row["reason"]


def table3_frame(offsets: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for score, off in offsets.items():
        for split, o in enumerate(off):
            rows.append(
                {"variant": "corrected", "z": 256, "log_c": 0.0, "width": 1.0, "seed": 123, "score": score}
                | {"split": split, "dice_oracle": 0.6, "dice_calib": 0.6 + o}
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [(-0.01, REPRODUCED), (-0.2, NOT_REPRODUCED), (-0.05, INCONCLUSIVE)],
    ids=["close", "far", "at-the-edge"],
)
def test_brats_calibrated_dice(offset, verdict):
    jitter = np.array([-0.004, 0.002, 0.0, 0.003, -0.001])
    t3 = table3_frame({"kl_grad": offset + jitter, "combi": offset + jitter, "rec": np.full(5, -0.5)})
    row = only_rows(tables.brats_calibrated_dice(tables.Evidence(table3=t3), context(), CFG), variant="corrected")
    d = offset + jitter
    half = sps.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)  # textbook t interval
    assert row["effect"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["verdict"] == verdict, row["reason"]
    assert row["tolerance"] == tables.DICE_TOLERANCE


# =============================================================================================== cells
def write_cells(tmp_path, method, seed, labels, score, variant="corrected"):
    path = tmp_path / paths.fill(cells_layout.SCORES, variant=variant, method=method, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    split = np.where(labels == 1, "infected", "healthy_test")
    name = [f"{i:05d}.png" for i in range(labels.size)]
    pd.DataFrame({"split": split, "name": name, "label": labels, "score": score, "backbone": ""}).to_csv(
        path, index=False
    )
    return path


def cell_files(tmp_path, strong: set[str], seeds=(0, 1), knn_seeds=(0, 1, 2), tie=False):
    rng = np.random.default_rng(1)
    y = _labels(80, 40)
    shared = rng.normal(size=y.size)
    files = []
    for inference in ("sampled", "restoration"):
        for model in ("supn", "diag", "l2"):
            for s in seeds:
                score = shared if tie else (_informative(y, rng, 1.5) if model in strong else rng.normal(size=y.size))
                files.append(write_cells(tmp_path, f"{model}_{inference}", s, y, score))
    for m in ("spade", "padim", "patchcore"):
        for s in knn_seeds:
            files.append(
                write_cells(tmp_path, m, s, y, _informative(y, rng, 1.5) if m in strong else rng.normal(size=y.size))
            )
    return y, files


def _trapezoid_auprc(y, s):
    p, r, _ = precision_recall_curve(y, s)
    return auc(r, p)


def _seed_mean(files, y, method, metric):
    """Mean over the seeds' score files of `method` of metric(labels, scores) (scikit-learn)."""
    return np.mean([metric(y, pd.read_csv(f)["score"]) for f in files if f"/{method}/" in str(f)])


@pytest.mark.parametrize(
    ("strong", "tie", "verdict"),
    [({"supn"}, False, REPRODUCED), ({"diag", "l2"}, False, NOT_REPRODUCED), (set(), True, INCONCLUSIVE)],
    ids=["win", "loss", "tie"],
)
def test_cells_supn_beats_diag_and_l2(tmp_path, strong, tie, verdict):
    y, files = cell_files(tmp_path, strong, tie=tie)
    cells = tables.load_cells(files)
    ev = tables.Evidence(cells=cells)
    for fn, other in ((tables.cells_supn_beats_diag, "diag"), (tables.cells_supn_beats_l2, "l2")):
        row = only_rows(fn(ev, context(), CFG), variant="corrected")
        assert row["verdict"] == verdict, row["reason"]
        # the row shows the weakest of the 4 parts; each part is a seed-mean difference (brute force, scikit-learn)
        parts = [
            _seed_mean(files, y, f"supn_{inference}", metric) - _seed_mean(files, y, f"{other}_{inference}", metric)
            for inference in ("sampled", "restoration")
            for metric in (roc_auc_score, _trapezoid_auprc)
        ]
        assert min(abs(row["effect"] - p) for p in parts) < 1e-9
        assert "weakest of 4 parts" in row["effect_name"] and row["n"] == y.size


def test_cells_supn_beats_knn(tmp_path):
    y, files = cell_files(tmp_path, {"supn"})
    ev = tables.Evidence(cells=tables.load_cells(files))
    row = only_rows(tables.cells_supn_beats_knn(ev, context(), CFG), variant="corrected")
    assert row["verdict"] == REPRODUCED, row["reason"]
    assert "weakest of 12 parts" in row["effect_name"]  # 3 methods × 2 inferences × 2 metrics
    name = row["effect_name"].split("parts: ")[1]  # e.g. "auprc restoration vs padim"
    metric, inference, _, method = name.split()
    fn = roc_auc_score if metric == "auroc" else _trapezoid_auprc
    supn, knn = _seed_mean(files, y, f"supn_{inference}", fn), _seed_mean(files, y, method, fn)  # 2 seeds vs 3
    assert row["effect"] == pytest.approx(supn - knn)
    # the kNN methods not run on the cells → not measured, naming the config key
    ctx = context()
    ctx["cells"]["knn_missing"] = layout.cells_knn_missing({"mvtec": {"enabled": False}})
    row = only_rows(tables.cells_supn_beats_knn(ev, ctx, CFG), variant="corrected")
    assert row["verdict"] == NOT_MEASURED and "mvtec.cells.enabled" in row["reason"]


def test_cells_claims_not_measured_when_disabled():
    row = tables.cells_supn_beats_diag(tables.Evidence(), context(cells=False), CFG)[0]
    assert row["verdict"] == NOT_MEASURED and "cells.enabled is false" in row["reason"]


def test_load_cells_refuses_files_with_other_cells(tmp_path):
    _, files = cell_files(tmp_path, {"supn"})
    df = pd.read_csv(files[0])
    df.loc[0, "name"] = "other.png"
    df.to_csv(files[0], index=False)
    with pytest.raises(Exception, match="same cells"):
        tables.load_cells(files)


# =============================================================================================== MVTec
def paper_mvtec_config() -> dict:
    cfg = demo_config()
    cfg["mvtec"]["dataset"] |= {"source": "download", "classes": list(MVTEC_CLASSES)}
    cfg["mvtec"]["backbone"]["name"] = "wide_resnet50_2"
    return cfg


def mvtec_evidence(tmp_path, offset: float):
    rng = np.random.default_rng(2)
    files, aurocs = [], []
    for c in MVTEC_CLASSES:
        y = _labels(400, 200)
        s = _informative(y, rng, 2.5)
        path = tmp_path / paths.fill(mvtec_layout.SCORES, category=c, knn_method="spade")
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"label": y, "score": s}).to_csv(path, index=False)
        files.append(path)
        aurocs.append(roc_auc_score(y, s))
    measured = float(np.mean(aurocs))
    t5 = pd.DataFrame(
        [{"class": "average", "method": "spade", "image_auroc": measured, "pixel_auroc": 0.95}
         | {"ref_image_auroc_paper": measured - offset, "ref_pixel_auroc_paper": 0.95 - offset}]
    )  # fmt: skip
    return tables.Evidence(mvtec_image=tables.mvtec_image_aurocs(files), table5=t5), measured


@pytest.mark.parametrize(("offset", "verdict"), [(0.0, REPRODUCED), (0.1, NOT_REPRODUCED)])
def test_mvtec_within_tolerance_of_published(tmp_path, offset, verdict):
    ev, _ = mvtec_evidence(tmp_path, offset)
    ctx = layout.context(paper_mvtec_config())
    assert ctx["mvtec"]["missing"] is None
    row = tables.mvtec_spade_published(ev, ctx, CFG)[0]
    assert row["verdict"] == verdict, row["reason"]
    assert abs(row["effect"]) == pytest.approx(offset, abs=1e-9)  # image and pixel differ from the reference by it
    assert row["tolerance"] == tables.MVTEC_TOLERANCE and row["n"] == 15 * 400


def test_mvtec_not_measured_on_the_stand_in():
    ctx = layout.context(demo_config())
    rows = [tables.CLAIM_FUNCTIONS[f"mvtec_{m}_published"](tables.Evidence(), ctx, CFG)[0] for m in ("spade", "padim")]
    assert all(r["verdict"] == NOT_MEASURED and "stand-in" in r["reason"] for r in rows)


# ============================================================================================== layout
def test_layout_inputs_follow_the_enabled_experiments():
    cfg = demo_config()
    files = layout.inputs(cfg)
    assert set(files) == set(layout.INPUT_KEYS)
    assert files["mnist_scores"] == mnist_layout.score_files(cfg["mnist"])
    assert files["table2"] == [brain_layout.TABLE2] and files["table3"] == [brain_layout.TABLE3]
    assert files["knn_scores"] == cells_layout.knn_score_files(cfg)
    assert files["mvtec_scores"] == [] and files["table5"] == []  # the stand-in cannot be compared with MVTec AD
    off = copy.deepcopy(cfg)
    for exp in ("mnist", "brain", "cells"):
        off[exp]["enabled"] = False
    assert not any(layout.inputs(off).values())
    paper = layout.inputs(paper_mvtec_config())
    assert len(paper["mvtec_scores"]) == 15 * 3 and paper["table5"] == [mvtec_layout.TABLE5]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"enabled": False}, "mvtec.enabled is false"),
        ({"backbone": {"name": "resnet18"}}, "mvtec.backbone.name"),
        ({"dataset": {"source": "download", "classes": ["bottle"]}}, "mvtec.dataset.classes lacks"),
    ],
)
def test_mvtec_missing_names_the_config_key(change, reason):
    cfg = paper_mvtec_config()
    cfg["mvtec"] |= change
    assert reason in layout.mvtec_missing(cfg)


def test_ledger_has_every_claim_and_column():
    ledger = tables.claims_table(tables.Evidence(), layout.context(demo_config()), CFG)
    assert list(ledger.columns) == tables.LEDGER_COLUMNS
    assert list(dict.fromkeys(ledger["claim_id"])) == list(tables.CLAIMS) == list(tables.CLAIM_FUNCTIONS)
    assert set(ledger["verdict"]) == {NOT_MEASURED}  # nothing loaded → nothing measured, every reason given
    assert ledger["reason"].str.len().gt(10).all()
    # every row carries its rule's reference line and tolerance, measured or not (the figure draws them)
    assert (ledger.loc[ledger["rule"] == "most_cases", "reference"] == 0.5).all()
    assert (ledger.loc[ledger["rule"] != "most_cases", "reference"] == 0.0).all()
    tol = ledger.set_index("claim_id")["tolerance"]
    assert tol["brats_calibrated_dice"] == tables.DICE_TOLERANCE and tol["mvtec_padim_published"] == 0.02
    assert tol[ledger.set_index("claim_id")["rule"] != "within_tolerance"].isna().all()
