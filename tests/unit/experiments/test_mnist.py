"""The sample-wise experiment glue: run ids and sweeps, train → score → table1 → figures on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from anoloc.data import mnist as mnist_data
from anoloc.experiments.mnist import steps as exp
from anoloc.experiments.mnist import tables as mnist_tables
from anoloc.experiments.mnist.layout import (
    SCORES,
    RunIdError,
    RunParams,
    parse_run,
    parse_score_file,
    run_id,
    runs_for_class,
    score_files,
    validate,
)
from anoloc.models import RunFiles, history_frame
from anoloc.plots import save_figure
from anoloc.plots.mnist import fig1_per_class, fig1_sweep
from anoloc.utils import AnolocError
from tests.helpers import section


def test_run_id_roundtrip():
    for p in (RunParams(20, 0.0, 1, 123), RunParams(5, -1.0, 4, 0), RunParams(20, 1.4, 2, 7)):
        assert parse_run(run_id(p), p.seed) == p
    assert run_id(RunParams(20, 1.4, 1, 123)) == "z20_logc1.4_s1"
    path = "results/mnist/scores/released/fashion_mnist/class7/z20_logc-1_s2/seed5.csv"
    assert parse_score_file(path) == ("released", "fashion_mnist", 7, RunParams(20, -1.0, 2, 5))
    with pytest.raises(RunIdError):
        parse_run("z20_logc_s1", 0)


def _cfg(**overrides):
    base = {"variants": ["corrected"], "datasets": {"mnist": {}}, "held_out_classes": [0, 1], "seeds": [1],
            "sweep_classes": [1], "defaults": {"z": 20, "log_c": 0.0, "scaling": 1}, "sweep": {"z": [5]}}  # fmt: skip
    return {**base, **overrides}


def test_sweep_is_one_at_a_time_around_defaults():
    cfg = _cfg(sweep_classes=[0], seeds=[1, 2], sweep={"z": [2, 20], "log_c": [1.4]})
    runs = runs_for_class(cfg, 0)
    assert len(runs) == 2 * 3  # defaults (= z 20) + z 2 + log c 1.4, for 2 seeds
    assert RunParams(2, 0.0, 1, 1) in runs and RunParams(20, 1.4, 1, 2) in runs
    assert all((r.z == 20) + (r.log_c == 0.0) + (r.scaling == 1) >= 2 for r in runs)
    with pytest.raises(RunIdError, match="cannot sweep"):
        runs_for_class(_cfg(sweep={"lr": [1]}), 1)


def test_sweep_only_on_sweep_classes_and_every_variant():
    cfg = _cfg()
    assert len(runs_for_class(cfg, 0)) == 1 and len(runs_for_class(cfg, 1)) == 2
    assert score_files(cfg) == [
        "results/mnist/scores/corrected/mnist/class0/z20_logc0_s1/seed1.csv",
        "results/mnist/scores/corrected/mnist/class1/z5_logc0_s1/seed1.csv",
        "results/mnist/scores/corrected/mnist/class1/z20_logc0_s1/seed1.csv",
    ]
    both = score_files(_cfg(variants=["corrected", "released"]))
    assert len(both) == 6 and both[3] == "results/mnist/scores/released/mnist/class0/z20_logc0_s1/seed1.csv"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sweep_classes": [0, 5]}, r"sweep_classes \[5\] are not in mnist.held_out_classes"),
        ({"defaults": {"z": 20, "log_c": float("nan"), "scaling": 1}}, "mnist.defaults.log_c: every value must be"),
        ({"sweep": {"log_c": [1.0, float("inf")]}}, "mnist.sweep.log_c: every value must be"),
        ({"sweep": {"width": [2]}}, "cannot sweep"),
    ],
)
def test_config_checks_the_schema_cannot_express(overrides, message):
    validate(_cfg())
    with pytest.raises(AnolocError, match=message):
        validate(_cfg(**overrides))


@pytest.fixture
def tiny_npz(tmp_path):
    """Digit-like toy data: class k = a bright square at a class-specific position."""
    rng = np.random.default_rng(0)

    def make(n):
        y = np.arange(n) % 10
        x = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
        for i, k in enumerate(y):
            r, c = 2 + 2 * k, 2 + (k % 5) * 4
            x[i, r : r + 6, c : c + 6] = 250
        return x, y.astype(np.int64)

    xtr, ytr = make(600)
    xte, yte = make(200)
    path = tmp_path / "toy.npz"
    mnist_data.save_prepared(mnist_data.MnistData(xtr, ytr, xte, yte), path)
    return path


def test_train_score_table_figures(tmp_path, tiny_npz):
    run = RunParams(z=4, log_c=-1.0, scaling=1, seed=3)
    train_cfg = section("mnist", "train", epochs=2, batch_size=64, lr=1e-3, val_fraction=0.1)
    model_path = tmp_path / "model.pt"
    files = RunFiles(model_path, tmp_path / "h.csv", tmp_path / "run", tmp_path / "tb")
    exp.train(tiny_npz, 3, run, section("mnist", "model", hidden=32), train_cfg, files, device="cpu")
    hist = history_frame(model_path)
    assert list(hist["epoch"]) == [1, 2] and {"train_loss", "val_loss", "train_kl", "train_rec"} <= set(hist)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "h.csv"), hist, check_dtype=False)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))

    scores = exp.score(model_path, tiny_npz, 3, device="cpu")
    assert len(scores) == 200 and scores["label"].sum() == 20
    np.testing.assert_allclose(scores["elbo"], scores["kl"] + scores["rec"], rtol=1e-6)
    again = exp.score(model_path, tiny_npz, 3, device="cpu")  # z = μ: deterministic
    pd.testing.assert_frame_equal(scores, again)
    mc = exp.score(model_path, tiny_npz, 3, n_samples=4, device="cpu")
    np.testing.assert_allclose(mc["kl"], scores["kl"], rtol=1e-5)  # KL is analytic either way
    assert not np.allclose(mc["rec"], scores["rec"])

    csv = tmp_path / SCORES.format(variant="corrected", dataset="mnist", held_out=3, run=run_id(run), seed=run.seed)
    csv.parent.mkdir(parents=True)
    scores.to_csv(csv, index=False)
    t1 = mnist_tables.write_tables([csv], tmp_path / "t1.csv", tmp_path / "t1s.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t1.csv"), t1, check_dtype=False)
    assert list(t1["score"]) == ["elbo", "kl", "rec"]
    row = t1.set_index("score").loc["kl"]
    assert row["auroc"] == pytest.approx(roc_auc_score(scores["label"], scores["kl"]))
    assert row["ap"] == pytest.approx(average_precision_score(scores["label"], scores["kl"]))
    assert (row["n_normal"], row["n_anomalous"], row["held_out_class"], row["z"]) == (180, 20, 3, 4)

    summary = pd.read_csv(tmp_path / "t1s.csv")
    assert {"auroc_mean", "auroc_std", "ap_mean", "n_seeds"} <= set(summary) and (summary["n_seeds"] == 1).all()

    defaults = {"z": 4, "log_c": -1.0, "scaling": 1}
    save_figure(fig1_per_class(t1, defaults), tmp_path / "fig1.png")
    save_figure(fig1_sweep(t1, defaults, {"log_c": [-1.0]}, [3]), tmp_path / "fig1_sweep.png")
    for f in ("fig1.png", "fig1.pdf", "fig1_sweep.png", "fig1_sweep.pdf"):
        assert (tmp_path / f).stat().st_size > 1000


def test_resumed_training_gives_same_model(tmp_path, tiny_npz):
    """A run killed after epoch 1 and restarted ends with the same weights as an uninterrupted run."""
    import torch

    from anoloc.models import load_model
    from anoloc.train import fit as real_fit

    run = RunParams(z=3, log_c=0.0, scaling=2, seed=11)
    cfg = section("mnist", "train", epochs=3, batch_size=50, lr=1e-3)
    mcfg = section("mnist", "model", hidden=16, legacy_sigma=True)
    exp.train(
        tiny_npz, 0, run, mcfg, cfg, RunFiles(tmp_path / "ref.pt", tmp_path / "ref.csv", tmp_path / "ref"), device="cpu"
    )

    def killed_fit(*args, **kwargs):
        def kill(epoch, model, record):
            if epoch == 2:
                raise KeyboardInterrupt

        return real_fit(*args, **kwargs, callbacks=[kill])

    files = RunFiles(tmp_path / "run.pt", tmp_path / "run.csv", tmp_path / "run")
    exp.fit = killed_fit
    try:
        with pytest.raises(KeyboardInterrupt):
            exp.train(tiny_npz, 0, run, mcfg, cfg, files, device="cpu")
    finally:
        exp.fit = real_fit
    assert not (tmp_path / "run.pt").exists()  # nothing half-written
    exp.train(tiny_npz, 0, run, mcfg, cfg, files, device="cpu")
    ref, _ = load_model(tmp_path / "ref.pt")
    got, meta = load_model(tmp_path / "run.pt")
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3]
    for k, v in ref.state_dict().items():
        assert torch.equal(got.state_dict()[k], v), k


def test_a_held_out_class_without_test_images_is_an_error(tmp_path):
    csv = tmp_path / SCORES.format(variant="corrected", dataset="mnist", held_out=3, run="z4_logc0_s1", seed=1)
    csv.parent.mkdir(parents=True)
    pd.DataFrame({"index": range(4), "class": [0, 1, 2, 4], "label": 0, "kl": 1.0, "rec": 1.0, "elbo": 2.0}).to_csv(
        csv, index=False
    )
    with pytest.raises(AnolocError, match=r"seed1\.csv: 0 of 4 test images belong to the held-out class 3"):
        mnist_tables.write_tables([csv], tmp_path / "t1.csv", tmp_path / "t1s.csv")
    assert not (tmp_path / "t1.csv").exists()


def test_fig1_sweep_averages_every_point_over_the_swept_classes_only():
    rows = []
    for cls, base in ((0, 0.9), (1, 0.1)):  # class 1 is not swept: it must not pull the default point down
        for log_c, shift in ((0.0, 0.0), (1.0, -0.2)):
            if cls == 1 and log_c == 1.0:
                continue
            keys = {"dataset": "mnist", "variant": "corrected", "held_out_class": cls, "z": 20, "log_c": log_c}
            for score in ("kl", "rec", "elbo"):
                rows.append({**keys, "scaling": 1, "seed": 1, "score": score, "auroc": base + shift})
    fig = fig1_sweep(pd.DataFrame(rows), {"z": 20, "log_c": 0.0, "scaling": 1}, {"log_c": [1.0]}, [0])
    ax = fig.axes[0]
    curves = [line for line in ax.lines if len(set(line.get_xdata())) == 2]  # not the vertical default marker
    assert curves and all(np.allclose(line.get_ydata(), [0.9, 0.7]) for line in curves)
    assert ax.get_title() == "mnist (held-out classes 0)"
