"""The matrix's own jobs on tiny data: dataset readers, kNN / baseline jobs, the conv VAE on another dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from anoloc.adapters import Adapter
from anoloc.baselines import ZScoreThreshold
from anoloc.data import cells as cells_data
from anoloc.data import mnist as mnist_data
from anoloc.data import mvtec as mvtec_data
from anoloc.experiments.matrix import layout as mx
from anoloc.experiments.matrix import steps
from anoloc.io import save_json
from anoloc.models import RunFiles, load_model
from anoloc.scores.names import PIXEL_SCORES
from tests.unit.experiments.test_matrix import demo_config


@pytest.fixture(scope="module")
def mvtec_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec")
    mvtec_data.write_synthetic(root, classes=["brick"], n_train=6, n_test_good=3, n_test_per_defect=2, tile=64, seed=1)
    layout = root / "layout.json"
    save_json({"root": str(root)}, layout)
    return {"data": str(layout)}


def _config() -> dict:
    cfg = demo_config()
    cfg["mvtec"].update(preprocess={"resize": 48, "crop": 40, "pre_resize": None}, batch_size=4)
    cfg["mvtec"]["padim"]["d"] = 20
    cfg["brain"]["preprocess"]["image_size"] = 16
    cfg["brain"]["model"].update(h_sizes=[4, 4, 8, 8], z=4)
    cfg["brain"]["train"].update(epochs=1, batch_size=4)
    cfg["matrix"]["conv_vae"] = {"epochs": 1, "batch_size": 4}
    cfg["matrix"]["batch_size"] = 4
    return cfg


def test_mvtec_split_geometry_and_masks(mvtec_files):
    sec = mx.job_section(_config(), "mvtec", "zscore")
    split = steps.load_split("mvtec", "brick", mvtec_files, sec)
    assert split.train.shape == (6, 3, 40, 40) and split.test.shape == (9, 3, 40, 40)
    assert split.mask.shape == (9, 40, 40) and split.mask.dtype == bool
    assert split.train.min() >= 0.0 and split.train.max() <= 1.0
    assert split.label.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert not split.mask[:3].any() and all(split.mask[i].any() for i in range(3, 9))
    assert list(split.group[:4]) == ["good/000", "good/001", "good/002", "contrast/000"]


@pytest.mark.parametrize("method", ["zscore", "nearest"])
def test_baseline_job_writes_a_matrix_score_file(mvtec_files, method):
    sec = mx.job_section(_config(), "mvtec", method)
    arrays = steps.score(mvtec_files, "brick", 0, sec, device="cpu")
    assert arrays[f"score__{method}"].shape == (9,) and arrays[f"map__{method}"].shape == (9, 40, 40)
    assert arrays["mask"].shape == (9, 40, 40) and str(arrays["adapter"]) == sec["description"]
    assert json.loads(str(arrays["params"]))["method"] == method
    if method == "zscore":  # the map is the z-score of the luma w.r.t. the training pixels
        split = steps.load_split("mvtec", "brick", mvtec_files, sec)
        gray = 0.299 * split.test[:, 0] + 0.587 * split.test[:, 1] + 0.114 * split.test[:, 2]
        g_tr = 0.299 * split.train[:, 0] + 0.587 * split.train[:, 1] + 0.114 * split.train[:, 2]
        z = (gray - g_tr.mean()) / g_tr.std()
        np.testing.assert_allclose(arrays["map__zscore"], z, rtol=1e-4, atol=1e-4)


def test_fit_score_subsamples_and_maps_back_to_the_mask_grid():
    rng = np.random.default_rng(0)
    split = steps.Split(
        train=rng.random((10, 1, 12, 12)).astype(np.float32),
        test=rng.random((3, 1, 12, 12)).astype(np.float32),
        label=np.array([0, 1, 1]),
        group=np.arange(3),
        mask=np.zeros((3, 12, 12), bool),
    )
    out = steps.fit_score(ZScoreThreshold(), split, Adapter(1, 24, "unit"), batch_size=2, n_train=4, seed=3)
    assert out["n_train"] == 4 and out["map"].shape == (3, 12, 12) and out["score"].shape == (3,)
    np.testing.assert_array_equal(steps.subsample(10, 4, 3), steps.subsample(10, 4, 3))
    assert len(steps.subsample(10, None, 3)) == 10 and len(steps.subsample(10, 40, 3)) == 10


def test_knn_on_mnist_like_digits(tmp_path):
    rng = np.random.default_rng(1)
    y_train, y_test = np.arange(40) % 10, np.arange(20) % 10
    x_train = rng.integers(0, 50, (40, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 50, (20, 28, 28), dtype=np.uint8)
    x_train[:, 10:18, 10:18] += 150  # every digit has a bright square …
    x_test[:, 10:18, 10:18] += 150
    x_test[y_test == 3, 2:8, 2:8] = 255  # … and the held-out class a bright corner
    mnist_data.save_prepared(mnist_data.MnistData(x_train, y_train, x_test, y_test), tmp_path / "mnist.npz")
    cfg = _config()
    cfg["matrix"]["datasets"]["mnist"].update(knn_size=32, knn_n_train=12)
    sec = mx.job_section(cfg, "mnist", "padim")
    assert sec["description"] == "gray→rgb, 28→32 bicubic, ImageNet norm"
    arrays = steps.score({"data": str(tmp_path / "mnist.npz")}, "class3", 0, sec, device="cpu")
    assert "map__padim" not in arrays and "mask" not in arrays  # MNIST has no masks: image level only
    assert arrays["label"].tolist() == (y_test == 3).astype(int).tolist()
    assert json.loads(str(arrays["params"]))["n_train"] == 12
    s = arrays["score__padim"]
    assert s[y_test == 3].min() > np.median(s[y_test != 3])


def test_cells_split_groups(tmp_path):
    splits = cells_data.write_synthetic(tmp_path / "cells", {"healthy_train": 4, "healthy_test": 3, "infected": 2})
    prepared = tmp_path / "cells.npz"
    cells_data.save_prepared(cells_data.load_folder(splits), prepared)
    split = steps.load_split("cells", "all", {"data": str(prepared)}, mx.job_section(_config(), "cells", "zscore"))
    assert split.train.shape == (4, 1, 128, 128) and split.mask is None
    assert split.label.tolist() == [0, 0, 0, 1, 1] and split.group[0].startswith("healthy_test/")


def test_conv_vae_trains_and_scores_on_mvtec(mvtec_files, tmp_path):
    cfg = _config()
    sec = mx.job_section(cfg, "mvtec", mx.VAE)
    assert sec["adapter"]["size"] == 16 and sec["adapter"]["norm"] == "zscore"
    files = RunFiles(tmp_path / "model.pt", tmp_path / "history.csv", tmp_path / "ckpt", tmp_path / "tb")
    steps.train_vae(mvtec_files, "brick", 0, sec, files, device="cpu")
    model, meta = load_model(files.model)
    assert model.hparams["image_size"] == 16 and meta["n_train"] + meta["n_val"] == 6
    arrays = steps.score_vae(files.model, mvtec_files, "brick", sec, device="cpu")
    for k in ("kl", "rec", "elbo"):
        assert arrays[f"score__vae_{k}"].shape == (9,) and np.isfinite(arrays[f"score__vae_{k}"]).all()
    for k in PIXEL_SCORES:
        assert arrays[f"map__vae_{k}"].shape == (9, 40, 40)  # maps back at the evaluation geometry
    torch.testing.assert_close(
        torch.from_numpy(arrays["score__vae_elbo"]),
        torch.from_numpy(arrays["score__vae_kl"] + arrays["score__vae_rec"]),
        rtol=1e-4,
        atol=1e-3,
    )
