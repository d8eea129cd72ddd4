"""The matrix experiment: the catalogue of cells, the sources (paper experiments' own files vs matrix jobs), the
tables on constructed score files, and the cells that coincide with table1, table2, table4 and table5."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from anoloc import paths
from anoloc.config import apply_schema_defaults
from anoloc.experiments.brain import layout as brain_layout
from anoloc.experiments.cells import layout as cells_layout
from anoloc.experiments.matrix import catalogue
from anoloc.experiments.matrix import layout as mx
from anoloc.experiments.mnist import layout as mnist_layout
from anoloc.scores.names import MATRIX_DATASETS, MATRIX_METHODS
from anoloc.utils import AnolocError
from tests.helpers import ROOT


def demo_config() -> dict:
    """The offline demo config with every schema default filled in (as the Snakefile sees it)."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    apply_schema_defaults(cfg, ROOT / "config" / "schema.yaml")
    return cfg


# ------------------------------------------------------------------------------------------- catalogue
def test_catalogue_covers_every_method_and_dataset():
    assert tuple(catalogue.METHODS) == MATRIX_METHODS and tuple(catalogue.DATASETS) == MATRIX_DATASETS
    paper = {(m, d) for m in MATRIX_METHODS for d in MATRIX_DATASETS if catalogue.plan(m, d).kind == "paper"}
    expected = {(m, d) for m in ("vae_kl", "vae_rec", "vae_elbo") for d in ("mnist", "fashion_mnist")}
    expected |= {(m, "brain") for m in MATRIX_METHODS if m.startswith("vae_")}
    expected |= {(m, "cells") for m in MATRIX_METHODS if m.endswith(("_sampled", "_restoration"))}
    expected |= {(m, d) for m in ("spade", "padim", "patchcore") for d in ("cells", "mvtec")}
    assert paper == expected
    assert catalogue.plan("spade", "mnist") == catalogue.Plan("matrix", "spade")
    assert catalogue.plan("vae_kl_grad", "mvtec") == catalogue.Plan("matrix", "conv_vae")
    assert catalogue.plan("supn_sampled", "brain").kind == "n/a"
    assert catalogue.levels("brain") == ["slice", "pixel"] and catalogue.levels("cells") == ["cell"]
    assert catalogue.level_status("vae_kl", "brain", "pixel") == "no pixel map"
    assert "pixel map only" in catalogue.level_status("vae_kl_grad", "brain", "slice")
    assert (
        catalogue.level_status("vae_rec", "brain", "pixel") == ""
        and catalogue.level_status("zscore", "mnist", "image") == ""
    )
    assert "no masks" in catalogue.level_status("vae_combi", "cells", "cell")


def test_adapter_descriptions():
    cfg = demo_config()
    assert catalogue.describe("spade", "mnist", cfg) == "gray→rgb, 28→32 bicubic, ImageNet norm"
    assert catalogue.describe("padim", "brain", cfg) == "gray→rgb, 64 (native), ImageNet norm"
    assert catalogue.describe("vae_kl", "mvtec", cfg) == (
        "short side→256 bicubic, crop 224; rgb→gray, 224→64 bicubic, z-score (normal train pixels), clip ±1.5"
    )
    assert catalogue.describe("nearest", "mvtec", cfg) == "short side→256 bicubic, crop 224; rgb, 224 (native), [0, 1]"
    assert catalogue.describe("zscore", "cells", cfg) == "gray, 128 (native), [0, 1]"
    assert catalogue.describe("patchcore", "mvtec", cfg) == "rgb, short side→256 bicubic, crop 224, ImageNet norm"
    assert catalogue.describe("vae_kl", "mnist", cfg).endswith("FC VAE")
    assert catalogue.describe("supn_sampled", "brain", cfg) == ""


# -------------------------------------------------------------------------------------------- layout
def test_sources_read_the_paper_experiments_own_files():
    cfg = demo_config()
    srcs = mx.sources(cfg)
    paper = [s for s in srcs if s.kind == "paper"]
    for s in paper:
        f = s.files[0]
        if s.reader == "mnist":
            variant, dataset, held_out, run = mnist_layout.parse_score_file(f)
            assert (variant, dataset, held_out, run.seed) == ("corrected", "mnist", 0, 123)
            assert (run.z, run.log_c, run.scaling) == (20, 0.0, 1)
        elif s.reader == "brain":
            variant, run = brain_layout.parse_score_file(f)
            assert variant == "corrected" and (run.z, run.width) == (256, 1.0) and f.endswith("brats.npz")
        elif s.reader == "cells":
            assert cells_layout.parse_score_file(f)[0] == "corrected"
        else:
            assert f == f"results/mvtec/scores/{s.subset}/{s.method}.csv" and s.files[1].endswith(".npz")
        assert s.score, s  # every cell has the benchmark record of its scoring job
    for s in srcs:
        if s.kind == "matrix":
            v = paths.parse(mx.SCORES if "conv_vae" not in s.files[0] else mx.VAE_SCORES, s.files[0])
            assert v["matrix_dataset"] == s.dataset and v["subset"] == s.subset
    # 3 mnist VAE scores + 6 cell VAE + 3 kNN on cells + 3 kNN × 3 MVTec classes + 7 VAE scores on the brain
    assert len(paper) == 3 + 6 + 3 + 9 + 7
    by = {(s.method, s.dataset, s.subset) for s in srcs}
    assert ("spade", "mnist", "class0") in by and ("vae_kl_grad", "mvtec", "brick") in by
    assert ("vae_kl_grad", "cells", "all") not in by  # no masks: n/a
    # the two baselines are deterministic: one seed; inputs deduplicated (one file per VAE job)
    cfg["matrix"]["seeds"] = [0, 1]
    seeds = {
        (s.method, s.dataset): {x.seed for x in mx.sources(cfg) if (x.method, x.dataset) == (s.method, s.dataset)}
        for s in srcs
    }
    assert seeds[("zscore", "brain")] == {0} and seeds[("padim", "brain")] == {0, 1}
    assert seeds[("vae_kl", "cells")] == {0, 1} and seeds[("vae_kl", "brain")] == {123}
    inputs = mx.table_inputs(cfg)
    assert len(inputs) == len(set(inputs))
    assert sum("conv_vae/seed0.npz" in f for f in inputs) == 1 + 3  # cells + three MVTec classes


def test_na_cells_and_validation():
    cfg = demo_config()
    na = {(c["method"], c["dataset"], c["level"]): c["reason"] for c in mx.na_cells(cfg)}
    assert ("supn_sampled", "mvtec", "pixel") in na and ("vae_kl", "brain", "pixel") in na
    assert ("spade", "mnist", "image") not in na
    bad = copy.deepcopy(cfg)
    bad["matrix"]["datasets"]["fashion_mnist"] = {"held_out_classes": None, "knn_size": 32, "knn_n_train": 10}
    with pytest.raises(AnolocError, match=r"mnist\.datasets\.fashion_mnist"):
        mx.validate(bad)
    off = copy.deepcopy(cfg)
    off["mvtec"]["enabled"] = off["mvtec"]["cells"]["enabled"] = False
    mx.validate(off)  # switched off, the kNN-on-cells jobs still exist: the matrix asks for them itself
    bad = copy.deepcopy(cfg)
    del bad["mvtec"]["cells"]
    with pytest.raises(AnolocError, match=r"mvtec\.cells"):
        mx.validate(bad)
    bad["matrix"]["methods"] = ["zscore"]
    mx.validate(bad)  # no kNN method: the cells kNN rows are not needed
    sec = mx.job_section(cfg, "mvtec", "conv_vae")
    assert sec["adapter"] == {"channels": 1, "size": 64, "norm": "zscore", "clip": 1.5, "mode": "bicubic"}
    assert sec["brain"]["model"]["legacy_sigma"] is False and "knn" not in sec
    assert sec["brain"]["train"]["batch_size"] == 8 and sec["brain"]["train"]["lr"] == cfg["brain"]["train"]["lr"]
    assert mx.job_section(cfg, "mnist", "padim")["knn"]["method"] == "padim"
    assert mx.job_section(cfg, "brain", "zscore")["params"] == {"quantile": 0.99, "two_sided": False}


def test_rule_modules_do_not_import_torch():
    """The rules (parse time) and the table and figure jobs (plot environment) run without torch."""
    code = (
        "import sys, anoloc.adapters, anoloc.experiments.matrix.catalogue, anoloc.experiments.matrix.layout, "
        "anoloc.experiments.matrix.tables, anoloc.plots.matrix; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
