"""The cells learning curve: step → epoch mapping, snapshot freshness, exact resume, table4_curve, fig4_curve."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from anoloc import paths
from anoloc.data import cells as cells_data
from anoloc.experiments.cells import curve
from anoloc.experiments.cells import curve_layout as layout
from anoloc.experiments.cells import layout as cells_layout
from anoloc.experiments.cells.curve_tables import COLUMNS, table4_curve
from anoloc.models import load_model
from anoloc.utils import AnolocError
from tests.helpers import section

TINY_MODEL = {"latent_dim": 2, "hidden_dim": 4, "depth": 5, "connectivity": 1, "fixed_var": 0.11}


def cfg(**curve_overrides):
    c = section("cells")
    c["curve"] |= {"enabled": True, "steps": [2, 5, 8], **curve_overrides}
    c["quirks"] = section("cells", "quirks")
    return c


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    data = section("cells", "data", source="synthetic", counts={"healthy_train": 12, "healthy_test": 4, "infected": 4})
    cells_data.prepare(data, d / "cache", d / "cells.npz")
    return d / "cells.npz"


def train_cfg(stage, **kw):
    return section("cells", stage, **{"epochs": 1, "batch_size": 4, "lr": 1e-3, **kw})  # epochs: set by the curve


# ------------------------------------------------------------------------------------------ layout
def test_milestone_epochs_round_up_to_whole_epochs():
    spe = 3
    got = layout.milestone_epochs([1, 3, 4, 250, 16000], spe)
    assert got == [math.ceil(k / spe) for k in (1, 3, 4, 250, 16000)] == [1, 1, 2, 84, 5334]
    assert all(e * spe >= k > (e - 1) * spe for e, k in zip(got, [1, 3, 4, 250, 16000], strict=True))
    with pytest.raises(AnolocError, match="strictly increasing"):
        layout.steps({"curve": {"steps": [500, 250]}})
    with pytest.raises(AnolocError, match="at least one batch"):
        layout.milestone_epochs([1], 0)


def test_layout_paths_and_targets():
    c = cfg(seeds=[0, 3])
    files = layout.score_files(c)
    assert len(files) == 3 * 2 * 3 * 2 and len(set(files)) == len(files)
    f = paths.fill(layout.SCORES, variant="corrected", model="l2", inference="sampled", step=5, seed=3)
    assert f in files
    assert layout.parse_score_file(f) == {
        "variant": "corrected",
        "model": "l2",
        "inference": "sampled",
        "step_requested": 5,
        "seed": 3,
    }
    assert layout.snapshot_of_score(f) == "results/cells/models/curve/corrected/seed3/mean/step5.pt"
    assert layout.final_snapshot(c, stage="mean", variant="corrected", seed=0).endswith("seed0/mean/step8.pt")
    assert layout.targets(c) == [layout.TABLE, *layout.FIGURE]
    assert layout.targets(section("cells")) == []  # off by default
    for template in (layout.SNAPSHOT, layout.HISTORY, layout.CHECKPOINTS, layout.TENSORBOARD, layout.SCORES):
        parts = template.split("/")  # results/<experiment>/<kind>/curve/…, every wildcard declared
        assert parts[:2] == ["results", "cells"] and parts[2] in paths.KINDS and parts[3] == "curve", template
        assert all(name in paths.WILDCARDS for name in paths.wildcard_names(template)), template
    # a curve path never matches the table4 templates, nor a table4 path the curve ones
    table4_path = paths.fill(cells_layout.SCORES, variant="corrected", method="supn_sampled", seed=3)
    with pytest.raises(AnolocError):
        cells_layout.parse_score_file(f)
    with pytest.raises(AnolocError):
        layout.parse_score_file(table4_path)


# ------------------------------------------------------------------------------------------ training
def mean_run(npz, tmp_path, c, callbacks=(), name="run", seed=0, **train_kw):
    outs = [tmp_path / name / f"step{k}.pt" for k in c["curve"]["steps"]]
    result = curve.train_mean_curve(
        npz,
        TINY_MODEL,
        c["quirks"],
        train_cfg("train_mean", collapse_threshold=0.0, **train_kw),
        c["curve"],
        seed,
        outs,
        tmp_path / name / "history.csv",
        tmp_path / name / "ckpt",
        device="cpu",
        callbacks=callbacks,
    )
    return result, outs


class Interrupt(Exception):
    pass


def interrupt_after(epoch):
    def cb(e, model, record):
        if e == epoch:
            raise Interrupt

    return cb


def state(path):
    return load_model(path)[0].state_dict()


def assert_same_weights(a, b):
    sa, sb = state(a), state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)


def test_stage1_snapshots_record_requested_and_actual_steps(npz, tmp_path):
    c = cfg()  # 12 images, batches of 4 → 3 steps per epoch; steps 2, 5, 8 → epochs 1, 2, 3
    result, outs = mean_run(npz, tmp_path, c)
    assert result.epochs_run == 3
    metas = [load_model(p)[1] for p in outs]
    assert [(m["step_requested"], m["step"], m["epoch"]) for m in metas] == [(2, 3, 1), (5, 6, 2), (8, 9, 3)]
    assert [len(m["history"]) for m in metas] == [1, 2, 3]
    assert metas[0]["stage"] == "mean" and metas[0]["train"]["epochs"] == 3
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 3
    # the snapshots differ (training went on) and stage 1 trains no precision decoder
    first, last = state(outs[0]), state(outs[-1])
    assert any(not torch.equal(first[k], last[k]) for k in first)


def test_resume_after_interruption_equals_uninterrupted_run(npz, tmp_path):
    c = cfg()
    _, ref = mean_run(npz, tmp_path, c, name="ref")
    with pytest.raises(Interrupt):  # killed after epoch 2: checkpoint of epoch 1 only (checkpoint_every 1, but the
        mean_run(npz, tmp_path, c, callbacks=[interrupt_after(2)], name="cut")  # interrupt precedes its checkpoint)
    snaps = tmp_path / "cut" / "ckpt" / curve.SNAPSHOT_DIR
    written = sorted(p.name for p in snaps.glob("step*.pt"))
    assert written == ["step2.pt"]  # epoch 2's snapshot comes after the interrupting callback
    before = (snaps / "step2.pt").stat().st_mtime_ns
    result, outs = mean_run(npz, tmp_path, c, name="cut")
    assert result.resumed_from == 1
    assert (snaps / "step2.pt").stat().st_mtime_ns == before  # kept, not rewritten
    for a, b in zip(ref, outs, strict=True):
        assert_same_weights(a, b)
    # stage 2 from the final stage-1 snapshot, interrupted and resumed, equals an uninterrupted one
    kw = dict(train_cfg=train_cfg("train_precision"), curve_cfg=c["curve"], seed=0, device="cpu")

    def precision(name, callbacks=()):
        outs = [tmp_path / name / f"step{k}.pt" for k in c["curve"]["steps"]]
        r = curve.train_precision_curve(
            npz,
            ref[-1],
            "supn",
            c["quirks"],
            outputs=outs,
            history=tmp_path / name / "h.csv",
            checkpoints=tmp_path / name / "ckpt",
            callbacks=callbacks,
            **kw,
        )
        return r, outs

    _, p_ref = precision("p_ref")
    with pytest.raises(Interrupt):
        precision("p_cut", [interrupt_after(3)])
    r, p_cut = precision("p_cut")
    assert r.resumed_from == 2
    for a, b in zip(p_ref, p_cut, strict=True):
        assert_same_weights(a, b)
    sa, sm = state(p_ref[-1]), state(ref[-1])  # stage 2 keeps the final stage-1 encoder and mean decoder
    assert set(sm) < set(sa) and all(torch.equal(sa[k], v) for k, v in sm.items())
    assert load_model(p_ref[0])[1]["stage"] == "supn"


def test_snapshots_are_discarded_when_the_fingerprint_changes(npz, tmp_path):
    c = cfg()
    mean_run(npz, tmp_path, c)
    snaps = tmp_path / "run" / "ckpt" / curve.SNAPSHOT_DIR
    old = {p.name: load_model(p)[1]["fingerprint"] for p in snaps.glob("step*.pt")}
    assert sorted(old) == ["step2.pt", "step5.pt", "step8.pt"]
    # a changed training setting (lr): the checkpoint is stale, so are the snapshots, even if the run is cut short
    with pytest.raises(Interrupt):
        mean_run(npz, tmp_path, c, callbacks=[interrupt_after(1)], lr=2e-3)
    assert sorted(p.name for p in snaps.glob("step*.pt")) == []  # all deleted before training (epoch 1 interrupted)
    mean_run(npz, tmp_path, c, lr=2e-3)
    new = {p.name: load_model(p)[1]["fingerprint"] for p in snaps.glob("step*.pt")}
    assert sorted(new) == sorted(old) and all(new[k]["train config"] != old[k]["train config"] for k in new)
    # a changed step list retrains too (the curve steps are part of the fingerprint)
    result, _ = mean_run(npz, tmp_path, cfg(steps=[2, 4, 8]), lr=2e-3)
    assert result.resumed_from is None
    assert sorted(p.name for p in snaps.glob("step*.pt")) == ["step2.pt", "step4.pt", "step8.pt"]
    # a snapshot deleted behind a finished checkpoint is replayed (not silently missing)
    (snaps / "step4.pt").unlink()
    result, outs = mean_run(npz, tmp_path, cfg(steps=[2, 4, 8]), lr=2e-3)
    assert result.resumed_from is None and (snaps / "step4.pt").exists() and outs[1].exists()


def test_stale_snapshot_file_is_unreadable_or_foreign(tmp_path):
    s = curve.Snapshots(tmp_path, [1, 2], 1, {"a": "1"})
    (tmp_path / "step1.pt").write_bytes(b"garbage")
    assert s.missing() == [1, 2] and s.discard_stale() == [tmp_path / "step1.pt"]
    assert not (tmp_path / "step1.pt").exists()


def test_tiny_curve_scored_and_tabulated(npz, tmp_path):
    """`enabled: true` with tiny steps on the synthetic cells: both stages, every snapshot scored, table4_curve."""
    c = cfg(steps=[2, 5])
    _, means = mean_run(npz, tmp_path, c)
    score_cfg = section("cells", "score", n_samples=2, restoration_steps=2, restoration_lr=0.01)
    files = []
    for precision in ("supn", "diag"):
        outs = [paths.fill(layout.SNAPSHOT, variant="corrected", seed=0, stage=precision, step=k) for k in (2, 5)]
        outs = [tmp_path / o for o in outs]
        curve.train_precision_curve(
            npz, means[-1], precision, c["quirks"], train_cfg("train_precision"), c["curve"], 0,
            outs, tmp_path / precision / "h.csv", tmp_path / precision / "ckpt", device="cpu",
        )  # fmt: skip
    for f in layout.score_files(c):
        snapshot = tmp_path / layout.snapshot_of_score(f)
        if "/mean/" in str(snapshot):  # stage 1 was written by mean_run under tmp_path/run
            snapshot = means[[2, 5].index(layout.parse_score_file(f)["step_requested"])]
        v = layout.parse_score_file(f)
        frame = curve.score_snapshot(snapshot, npz, v["model"], v["inference"], score_cfg, c["quirks"], 0, "cpu")
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(tmp_path / f, index=False)
        files.append(tmp_path / f)
    t = table4_curve(files)
    assert len(t) == 12 and t["auroc"].between(0, 1).all()
    assert sorted(set(zip(t["step_requested"], t["step"], t["epoch"], strict=True))) == [(2, 3, 1), (5, 6, 2)]
    assert dict(zip(t["model"], t["stage"], strict=True)) == {"supn": "supn", "diag": "diag", "l2": "mean"}


# ------------------------------------------------------------------------------------------ tables and figure
def fabricated_scores(tmp_path, rng):
    files = []
    for seed in (0, 1):
        for model in ("supn", "diag", "l2"):
            for inference in ("sampled", "restoration"):
                for k, (step, epoch) in zip((2, 5), ((3, 1), (6, 2)), strict=True):
                    p = tmp_path / paths.fill(
                        layout.SCORES, variant="corrected", model=model, inference=inference, step=k, seed=seed
                    )
                    p.parent.mkdir(parents=True, exist_ok=True)
                    label = np.r_[np.zeros(7, int), np.ones(5, int)]
                    score = rng.normal(size=12) + label * rng.uniform(0, 2)
                    pd.DataFrame(
                        {
                            "split": np.where(label == 1, "infected", "healthy_test"),
                            "name": [f"{i:05d}.png" for i in range(12)],
                            "label": label,
                            "score": score,
                            "backbone": "",
                            "stage": "mean" if model == "l2" else model,
                            "step_requested": k,
                            "step": step,
                            "epoch": epoch,
                        }
                    ).to_csv(p, index=False)
                    files.append(p)
    return files


def test_table4_curve_columns_and_metrics_against_sklearn(tmp_path):
    files = fabricated_scores(tmp_path, np.random.default_rng(0))
    t = table4_curve(files[::-1])
    assert list(t.columns) == COLUMNS and len(t) == len(files) == 24
    assert list(t["model"].drop_duplicates()) == ["supn", "diag", "l2"]
    for p in files:
        d = pd.read_csv(p)
        row = t[
            (t["seed"] == int(p.stem[4:]))
            & (t["model"] == p.parent.parent.name.split("_")[0])
            & (t["inference"] == p.parent.parent.name.split("_")[1])
            & (t["step_requested"] == int(p.parent.name[4:]))
        ]
        assert len(row) == 1
        assert row["auroc"].item() == pytest.approx(roc_auc_score(d["label"], d["score"]), abs=1e-12)
        assert row["ap"].item() == pytest.approx(average_precision_score(d["label"], d["score"]), abs=1e-12)
        assert (row["n_healthy"].item(), row["n_infected"].item()) == (7, 5)
        assert (row["step"].item(), row["epoch"].item()) == {2: (3, 1), 5: (6, 2)}[row["step_requested"].item()]
    assert set(t.loc[t["model"] == "l2", "stage"]) == {"mean"}


def test_table4_curve_rejects_a_plain_score_file(tmp_path):
    files = fabricated_scores(tmp_path, np.random.default_rng(1))
    pd.read_csv(files[0]).drop(columns=["epoch"]).to_csv(files[0], index=False)
    with pytest.raises(AnolocError, match="missing columns"):
        table4_curve(files[:1])


def test_table_and_figure_do_not_import_torch(tmp_path):
    files = fabricated_scores(tmp_path, np.random.default_rng(2))
    code = f"""
import sys
from anoloc.experiments.cells.curve_tables import write_table4_curve
from anoloc.plots import save_figure
from anoloc.plots.curve import fig4_curve
t = write_table4_curve({[str(f) for f in files]!r}, {str(tmp_path / "t.csv")!r})
fig = fig4_curve(t)
lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 2]
assert len(lines) >= 6, len(lines)  # 3 models x 2 inferences (+ chance line)
assert fig.axes[0].get_xscale() == "log"
save_figure(fig, {str(tmp_path / "fig.png")!r})
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "fig.png").stat().st_size > 10_000 and (tmp_path / "fig.pdf").exists()
