"""Synthetic cohort, parse-time paths and splits, tables, and a tiny end-to-end run of the brain experiment."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from anoloc.data.brain import cohort as brain_cohort
from anoloc.data.brain import prepare
from anoloc.data.brain.layouts import brats_cases, hcp_subjects, synthetic_brats_cases, synthetic_hcp_ids
from anoloc.data.brain.prepare import generate_cohort
from anoloc.data.brain.synthetic import SyntheticConfig, build_template, generate_subject, load_template, save_template
from anoloc.experiments.brain import layout as brain_layout
from anoloc.experiments.brain import steps as brain
from anoloc.experiments.brain import tables as brain_tables
from anoloc.models import RunFiles
from anoloc.scores.names import PIXEL_SCORES
from anoloc.utils import AnolocError
from tests.helpers import ROOT, section

SYN = section("brain", "data", "synthetic", n_hcp=4, n_brats=4, seed=3, hcp_voxel_mm=4.0, brats_voxel_mm=4.0)
PREP = section("brain", "preprocess", spacing_mm=4.0, fov_mm=[160, 200], slice_offset=2, image_size=16, clip=1.5)
EVAL = section(
    "brain",
    "evaluate",
    diseased_min_voxels=1,
    threshold_search="exact",
    n_grid=500,
    n_splits=3,
    calib_fraction=0.25,
    split_seed=0,
    healthy_percentile=99.0,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "tpl.npz"
    t = build_template(smooth_mm=1.6)
    save_template(t, path)
    return t, path


def test_synthetic_subjects_are_deterministic_and_distinct(template):
    t, _ = template
    cfg = SyntheticConfig.from_dict(SYN)
    a, seg_a, aff = generate_subject(t, "brats", "Brats17_SYN_000_1", cfg, grade="HGG")
    b, seg_b, _ = generate_subject(t, "brats", "Brats17_SYN_000_1", cfg, grade="HGG")
    c, _, _ = generate_subject(t, "brats", "Brats17_SYN_001_1", cfg, grade="HGG")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(seg_a, seg_b)
    assert not np.array_equal(a, c)
    assert nib.aff2axcodes(aff) == ("L", "P", "S") and a.shape == (60, 60, 39)
    assert set(np.unique(seg_a)) <= {0, 1, 2, 4} and {2, 4} <= set(np.unique(seg_a))
    brain_vox = a > 0
    assert np.all(seg_a[~brain_vox] == 0)
    assert np.median(a[seg_a == 2]) > np.median(a[brain_vox & (seg_a == 0)])  # oedema hyperintense on T2
    _, seg_lgg, _ = generate_subject(t, "brats", "Brats17_SYN_003_1", cfg, grade="LGG")
    assert 4 not in np.unique(seg_lgg) and 1 in np.unique(seg_lgg)
    h, seg_h, aff_h = generate_subject(t, "hcp", "synhcp000", cfg)
    assert seg_h is None and nib.aff2axcodes(aff_h) == ("L", "A", "S") and h.min() == 0 and h.max() > 0


def test_synthetic_paths_follow_config_and_layouts(tmp_path, monkeypatch):
    cfg = {"data": section("brain", "data", source="synthetic", exclude=["synhcp001"], synthetic=SYN), "train": {}}
    subs = brain_cohort.subjects(cfg)
    assert subs.cohort == "synthetic"
    assert list(subs.hcp) == ["synhcp000", "synhcp002", "synhcp003"]
    assert list(subs.brats) == [c for c, _ in synthetic_brats_cases(4)]
    assert subs.brats_grade["Brats17_SYN_003_1"] == "LGG"
    assert subs.hcp["synhcp000"] == "resources/brain/synthetic/raw/HCP/synhcp000/T1w/T2w_acpc_dc_restore_brain.nii.gz"
    # the synthetic files, once written there, are found by the real layout scanners
    monkeypatch.chdir(tmp_path)
    for path in [*subs.hcp.values(), *(p for pair in subs.brats.values() for p in pair)]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    assert list(hcp_subjects(brain_cohort.SYNTH_HCP_ROOT)) == list(subs.hcp)
    assert sorted(brats_cases(brain_cohort.SYNTH_BRATS_ROOT)) == sorted(subs.brats)
    inputs = brain_layout.raw_inputs(cfg)
    wc = SimpleNamespace(cohort="synthetic", dataset="brats", subject="Brats17_SYN_001_1")
    assert inputs(wc)["seg"].endswith("HGG/Brats17_SYN_001_1/Brats17_SYN_001_1_seg.nii.gz")
    with pytest.raises(AnolocError, match="unknown hcp subject"):
        inputs(SimpleNamespace(cohort="synthetic", dataset="hcp", subject="synhcp001"))


def test_real_folder_validation_at_parse_time(tmp_path):
    cfg = {
        "data": section(
            "brain", "data", source="folders", hcp_root=str(tmp_path / "hcp"), brats_root=str(tmp_path / "brats")
        ),
        "train": {"val_fraction": 0.2, "split_seed": 0},
    }
    with pytest.raises(AnolocError, match=r"hcp.*does not exist.*ConnectomeDB"):
        brain_cohort.validate(cfg)
    for s in ("100307", "100408", "101006"):
        p = tmp_path / "hcp" / s / "T1w" / "T2w_acpc_dc_restore_brain.nii.gz"
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
    with pytest.raises(AnolocError, match=r"brats.*does not exist.*BraTS"):
        brain_cohort.validate(cfg)
    for case in ("Brats17_A_1", "Brats17_B_1"):
        for mod in ("t2", "seg"):
            p = tmp_path / "brats" / "HGG" / case / f"{case}_{mod}.nii.gz"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")
    subs = brain_cohort.validate(cfg)
    assert subs.cohort == "real" and list(subs.hcp) == ["100307", "100408", "101006"]
    files = brain_layout.train_inputs(cfg)
    assert len(files["train"]) == 2 and len(files["val"]) == 1
    assert files["val"][0].startswith("resources/brain/real/hcp/")


def test_hcp_split():
    subs = [f"s{i}" for i in range(10)]
    train, val = brain_cohort.hcp_split(subs, 0.2, seed=1)
    assert len(val) == 2 and not set(train) & set(val) and set(train) | set(val) == set(subs)
    assert (train, val) == brain_cohort.hcp_split(list(reversed(subs)), 0.2, seed=1)
    assert brain_cohort.hcp_split(["a", "b"], 0.01, 0)[1] != []  # at least one validation subject
    with pytest.raises(AnolocError, match="cannot be split"):
        brain_cohort.hcp_split(["a"], 0.2, 0)


def test_table_and_plot_modules_do_not_import_torch():
    # the table / figure rules run in envs/plot.yaml (no torch, nibabel or scikit-image)
    code = (
        "import sys, anoloc.experiments.brain.layout, anoloc.experiments.brain.tables, anoloc.plots.brain; "
        "bad = {'torch', 'nibabel', 'skimage'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tables_on_perfect_and_random_scores(tmp_path):
    rng = np.random.default_rng(0)
    n, h = 40, 8
    label = np.zeros((n, h, h), bool)
    subject = np.repeat([f"p{i}" for i in range(8)], 5)
    label[::2, 2:5, 2:5] = True
    tumour = label.sum((1, 2)) * 2
    s = {
        "label": label,
        "brain_mask": np.ones_like(label),
        "subject": subject,
        "tumour_voxels": tumour,
        "slice_index": np.arange(n),
        "slice_kl": tumour + rng.normal(0, 0.1, n),
        "slice_rec": rng.normal(size=n),
        "slice_elbo": -tumour.astype(float),
    }
    for k in PIXEL_SCORES:
        s[k] = label + 0.1 * rng.random(label.shape) if k != "kl_grad" else rng.random(label.shape)
    np.savez(tmp_path / "brats.npz", **s)
    np.savez(tmp_path / "hcp.npz", **{f"{k}_brain": 0.1 + 0.05 * rng.random(1000) for k in PIXEL_SCORES})
    run = brain_layout.BrainRun(z=8, log_c=0.0, width=1.0, seed=1)
    released = {**EVAL, "diseased_min_voxels": 20}  # the variants' evaluate sections may differ
    evaluate = {"corrected": EVAL, "released": released}
    t2 = brain_tables.table2(
        [("corrected", run, tmp_path / "brats.npz"), ("released", run, tmp_path / "brats.npz")], evaluate
    )
    assert list(t2.columns[:6]) == ["variant", "z", "log_c", "width", "seed", "level"]
    sl_rel = t2[(t2.level == "slice") & (t2.variant == "released")].set_index("score")
    assert sl_rel.loc["kl", "n_positive"] == 0  # no slice has more than 20 tumour voxels
    t2 = t2[t2.variant == "corrected"]
    px = t2[t2.level == "pixel"].set_index("score")
    assert px.loc["rec", "auroc"] == 1.0 and px.loc["rec", "dice_oracle"] == pytest.approx(1.0)
    assert abs(px.loc["kl_grad", "auroc"] - 0.5) < 0.1
    sl = t2[t2.level == "slice"].set_index("score")
    assert sl.loc["kl", "auroc"] == 1.0 and sl.loc["elbo", "auroc"] == 0.0
    assert sl.loc["kl", "n_positive"] == 20 and sl.loc["kl", "n_negative"] == 20
    t3, summary = brain_tables.table3([("corrected", run, tmp_path / "brats.npz", tmp_path / "hcp.npz")], evaluate)
    assert len(t3) == 5 * 3 and set(t3.n_calib_patients) == {2}
    rec = t3[t3.score == "rec"]
    assert np.allclose(rec.dice_calib, 1.0) and np.allclose(rec.dice_oracle, 1.0)
    assert np.allclose(rec.dice_healthy, 1.0)  # healthy 99th percentile (0.1…0.15) separates, too
    assert list(summary.score) == list(PIXEL_SCORES) and set(summary.n_runs) == {3}
    assert list(summary.columns[:5]) == ["variant", "z", "log_c", "width", "score"]


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path):
    hcp_ids, cases = synthetic_hcp_ids(SYN["n_hcp"]), synthetic_brats_cases(SYN["n_brats"])
    raw = tmp_path / "raw"
    generate_cohort(
        raw / "tpl.npz",
        1.6,
        SYN,
        {s: raw / f"{s}.nii.gz" for s in hcp_ids},
        {c: (raw / f"{c}_t2.nii.gz", raw / f"{c}_seg.nii.gz", g) for c, g in cases},
    )
    cfg = SyntheticConfig.from_dict(SYN)
    one, _, _ = generate_subject(load_template(raw / "tpl.npz"), "hcp", hcp_ids[0], cfg)
    assert np.array_equal(nib.load(raw / f"{hcp_ids[0]}.nii.gz").get_fdata(dtype=np.float32), one)
    hcp, brats_files = [], []
    for s in hcp_ids:
        prepare.preprocess(raw / f"{s}.nii.gz", None, "hcp", s, PREP, tmp_path / "hcp" / f"{s}.npz")
        hcp.append(tmp_path / "hcp" / f"{s}.npz")
    for case, _ in cases:
        t2, seg = raw / f"{case}_t2.nii.gz", raw / f"{case}_seg.nii.gz"
        prepare.preprocess(t2, seg, "brats", case, PREP, tmp_path / "brats" / f"{case}.npz")
        brats_files.append(tmp_path / "brats" / f"{case}.npz")
    model_cfg = section("brain", "model", h_sizes=[4, 4, 8, 8], z=8)
    train_cfg = section(
        "brain", "train", epochs=2, batch_size=32, lr=1e-3, schedule="plateau", early_stopping_patience=3
    )
    files = RunFiles(tmp_path / "m.pt", tmp_path / "h.csv", tmp_path / "run")
    run = brain_layout.BrainRun(z=8, log_c=0.0, width=0.5, seed=5)
    res = brain.train(hcp[:3], hcp[3:], run, model_cfg, train_cfg, 1.5, files, device="cpu")
    assert res.epochs_run == 2 and {"train_loss", "val_loss"} <= set(res.history[-1])
    assert len(pd.read_csv(tmp_path / "h.csv")) == 2
    brain.score(
        tmp_path / "m.pt",
        brats_files,
        hcp[3:],
        {"batch_size": 16, "combi_norm": "global"},
        tmp_path / "b.npz",
        tmp_path / "h.npz",
        device="cpu",
    )
    out = [tmp_path / f for f in ("t2.csv", "t3.csv", "t3s.csv")]
    # the table job reads the seed from the score files' paths
    brats_npz = tmp_path / brain_layout.SCORES_BRATS.format(
        variant="corrected", cohort="synthetic", run=brain_layout.run_id(run), seed=5
    )
    brats_npz.parent.mkdir(parents=True)
    (tmp_path / "b.npz").rename(brats_npz)
    (tmp_path / "h.npz").rename(brats_npz.with_name("hcp_val.npz"))
    brain_tables.write_tables([brats_npz], [brats_npz.with_name("hcp_val.npz")], {"corrected": EVAL}, *out)
    t2, t3 = pd.read_csv(out[0]), pd.read_csv(out[1])
    assert len(t2) == 8 and t2.auroc.between(0, 1).all() and t2.dice_oracle.dropna().between(0, 1).all()
    assert set(t2.width) == {0.5} and set(t2.z) == {8} and set(t2.seed) == {5}
    assert len(t3) == 15 and t3.dice_calib.between(0, 1).all()
    assert (t3.dice_oracle >= t3.dice_calib - 1e-9).all()  # the oracle is the best on its own pixels
    from anoloc.plots import save_figure
    from anoloc.plots.brain import fig2_examples, fig3_curves

    scores = brain_tables.load_scores(brats_npz)
    save_figure(fig2_examples(scores, n=2), tmp_path / "fig2.png")
    save_figure(fig3_curves(scores), tmp_path / "fig3.png")
    assert (tmp_path / "fig2.pdf").stat().st_size > 0 and (tmp_path / "fig3.png").stat().st_size > 0


def test_schema_defaults_complete_a_disabled_section_and_configs_validate():
    import yaml
    from snakemake.utils import validate

    from anoloc.config import fill_defaults

    schema = yaml.safe_load((ROOT / "config/schema/brain.schema.yaml").read_text())
    full = fill_defaults({"enabled": False}, schema)
    assert full["data"]["source"] == "synthetic" and full["train"]["augment"]["flip_p"] == 0.5
    assert full["evaluate"]["diseased_min_voxels"] == 20 and full["preprocess"]["slice_offset"] == 20
    assert brain_cohort.cohort(full) == "synthetic"
    assert brain_layout.score_files(full) == [
        "results/brain/scores/corrected/synthetic/z256_logc0_w1/seed123/brats.npz"
    ]
    swept = {**full, "variants": ["corrected", "released"], "sweep": {"z": [64], "width": [0.5, 1]}}
    runs = brain_layout.runs(swept)
    assert [brain_layout.run_id(r) for r in runs] == ["z256_logc0_w1", "z64_logc0_w1", "z256_logc0_w0.5"]
    assert len(brain_layout.score_files(swept, "hcp_val")) == 2 * 3
    assert brain_layout.figure_scores(swept).startswith("results/brain/scores/corrected/synthetic/z256_logc0_w1/")
    with pytest.raises(AnolocError, match="cannot sweep"):
        brain_layout.validate_sweep({**full, "sweep": {"lr": [1.0]}})
    for name in ("config.yaml", "paper.yaml"):
        cfg = yaml.safe_load((ROOT / "config" / name).read_text())
        validate(cfg, str(ROOT / "config/schema.yaml"))
        brain_cfg = cfg["brain"]
        filled = fill_defaults(brain_cfg, schema)
        if brain_cfg["data"]["source"] == "folders":  # the synthetic cohort's settings are irrelevant there
            filled["data"].pop("synthetic")
        assert filled == brain_cfg  # every key is set explicitly
    bad = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    bad["brain"]["score"]["combi_norm"] = "volume"
    with pytest.raises(Exception, match="volume"):
        validate(bad, str(ROOT / "config/schema.yaml"))
