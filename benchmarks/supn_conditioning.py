"""Why SUPN loses to diag on the real cells: conditioning of the learned precision over stage 2, float32 vs
float64, and the released code's settings switched one at a time from the same stage-1 model and seed.

    nice -n 10 python benchmarks/supn_conditioning.py --data ../shared/data/fl_dataset --work /tmp/supn_cond \
        [--stage1-epochs 40] [--stage2-epochs 20] [--batch 64] [--k 10] [--restoration-steps 30] [--variants ...]

Protocol (no setting is chosen on the test cells):
- the 1315 healthy training crops are split once (seed 0) into 1184 for training and 131 held out ("val");
  stage 1 (`anoloc.experiments.cells.steps.train_mean`) trains on the 1184, as does every stage 2;
- every stage-2 variant starts from the same stage-1 model with the same seed and differs from `supn` (the
  project's faithful default: lr 1e−3, λ_L1 = 0, ℓ ∈ (−7, 4), float32, no test blur) in one setting only;
  `transpose` retrains stage 1 on transposed crops (`legacy_transpose`, as the released `CellCrops`);
- eval-only variants change the scoring of a trained model (test blur, sampler, the latents z of the scores);
- for each model: held-out NLL (4 latent samples per crop), AUROC of the sampled (K latents) and restoration
  scores on the 201 test cells (`anoloc.scores.cells.score_cells`), the conditioning of Lᵀ at z = μ_z on the
  test cells (`anoloc.models.supn_diagnostics`; σ_min on 12 healthy + 12 infected), and one checked sample per
  test cell;
- during each SUPN stage 2, after every epoch: the training NLL and the conditioning of 16 held-out crops.

Writes <work>/variants.csv (one row per variant), <work>/trajectory.csv (one row per variant and epoch) and
<work>/crops_<variant>.csv (per test crop); prints the variants table. Reruns skip finished variants.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from anoloc.config import apply_schema_defaults
from anoloc.data import cells as cells_data
from anoloc.experiments.cells import steps as exp
from anoloc.metrics import auroc
from anoloc.models import RunFiles, load_model, save_model
from anoloc.models.cell_vae import CellVAE, heldout_nll, precision_stage_loss
from anoloc.models.supn_diagnostics import model_conditioning, sample_checked
from anoloc.scores.cells import score_cells
from anoloc.train import fit
from anoloc.utils import derive_seed, seed_everything

log = logging.getLogger("supn_conditioning")
ROOT = Path(__file__).resolve().parents[1]


def _cells_defaults() -> dict:
    """The demo config's cells section with every schema default (quirks, schedules, data keys)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    apply_schema_defaults(cfg, ROOT / "config" / "schema.yaml")
    return cfg["cells"]


CELLS = _cells_defaults()
SEED = 0
N_VAL = 131
N_TRACK = 8
N_SIGMA = 12  # healthy and infected test crops whose σ_min(Lᵀ) is estimated (Lanczos, ~0.3 s each)


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    change: str  # what differs from the default, in words
    likelihood: str = "supn"
    hparams: tuple = ()  # CellVAE overrides, ((key, value), ...)
    l1: float = 0.0
    lr: float = 1e-3
    dtype: str = "float32"
    transpose: bool = False
    test_blur: bool = False
    diag_epsilon: float = 0.0
    z_mode: str = "sample"  # scoring latents: sample z ~ q(z|x) | mean (z = μ_z) | legacy (μ + exp(log σ²)·ε)
    train: bool = True  # False: evaluation-only change of the model trained by `base`
    base: str = ""


VARIANTS = {
    v.name: v
    for v in [
        Variant("supn", "project default (faithful maths; lr 1e-3, L1 0, ell in (-7,4), float32)"),
        Variant("diag", "diagonal precision (baseline)", likelihood="diag"),
        Variant("l2", "stage-1 mean, fixed variance (baseline)", likelihood="fixed", train=False),
        Variant("supn_bound_0.9", "bounded off-diagonals rho 0.9 (our switch)", hparams=(("offdiag_bound", 0.9),)),
        Variant("supn_float64", "stage 2 trained and evaluated in float64", dtype="float64"),
        Variant("supn_lr1e-4", "learning rate 1e-4 (released 1e-3)", lr=1e-4),
        Variant("supn_l1_100", "l1_reg_weight 100 (released example config)", l1=100.0),
        Variant("supn_l1_1000", "l1_reg_weight 1000 ('original MIDL' run)", l1=1000.0),
        Variant(
            "supn_ell_floor_-3",
            "ell in (-3,4) instead of (-7,4): floor exp(ell) >= 0.05",
            hparams=(("sigmoid_shift", -3.0), ("sigmoid_scale", 7.0)),
        ),
        Variant("supn_dev_sampler", "dev-branch sampler: exp(ell) + 1e-6", train=False, base="supn", diag_epsilon=1e-6),
        Variant(
            "supn_blur",
            "test-time GaussianBlur(5, sigma 2) (released evaluation)",
            train=False,
            base="supn",
            test_blur=True,
        ),
        Variant("supn_transpose", "legacy_transpose training crops (stage 1 and 2)", transpose=True),
        Variant("supn_bound_0.5", "bounded off-diagonals rho 0.5 (our switch)", hparams=(("offdiag_bound", 0.5),)),
        Variant("supn_bound_0.99", "bounded off-diagonals rho 0.99 (our switch)", hparams=(("offdiag_bound", 0.99),)),
        Variant("supn_zmean", "scored at z = mu_z (no latent noise)", train=False, base="supn", z_mode="mean"),
        Variant("diag_zmean", "diag scored at z = mu_z", likelihood="diag", train=False, base="diag", z_mode="mean"),
        Variant("l2_zmean", "L2 scored at z = mu_z", likelihood="fixed", train=False, z_mode="mean"),
        Variant(
            "supn_legacy_reparam_eval",
            "scored with the released z = mu + exp(log var) eps (training unchanged)",
            train=False,
            base="supn",
            z_mode="legacy",
        ),
        Variant(
            "diag_legacy_reparam_eval",
            "diag scored with the released z = mu + exp(log var) eps",
            likelihood="diag",
            train=False,
            base="diag",
            z_mode="legacy",
        ),
        Variant(
            "supn_bound_0.99_blur",
            "bounded rho 0.99, test-time blur",
            hparams=(("offdiag_bound", 0.99),),
            train=False,
            base="supn_bound_0.99",
            test_blur=True,
        ),
        Variant(
            "supn_bound_0.99_zmean",
            "bounded rho 0.99, scored at z = mu_z",
            hparams=(("offdiag_bound", 0.99),),
            train=False,
            base="supn_bound_0.99",
            z_mode="mean",
        ),
        Variant("diag_blur", "diag, test-time blur", likelihood="diag", train=False, base="diag", test_blur=True),
        Variant("diag_transpose", "diag, legacy_transpose training crops", likelihood="diag", transpose=True),
        Variant("l2_blur", "L2, test-time blur", likelihood="fixed", train=False, test_blur=True),
    ]
}


# ------------------------------------------------------------------------------------------ data
def split_data(npz: Path, work: Path) -> tuple[Path, torch.Tensor]:
    """Write <work>/train.npz (healthy_train without the held-out crops) and return (it, held-out images)."""
    data = cells_data.load_prepared(npz)
    ht = data["healthy_train"]
    perm = np.random.default_rng(SEED).permutation(len(ht))
    val_idx, train_idx = np.sort(perm[:N_VAL]), np.sort(perm[N_VAL:])
    out = work / "train.npz"
    if not out.exists():
        train = cells_data.CellSplit(ht.images[train_idx], ht.masks[train_idx], [ht.names[i] for i in train_idx])
        cells_data.save_prepared({**data, "healthy_train": train}, out, {"held_out": json.dumps(val_idx.tolist())})
    return out, exp.to_tensor(ht.images[val_idx])


# ------------------------------------------------------------------------------------------ training
def stage1(train_npz: Path, work: Path, args, transpose: bool) -> Path:
    out = work / ("mean_transpose.pt" if transpose else "mean.pt")
    if not out.exists():
        quirks = {**CELLS["quirks"], "legacy_transpose": transpose}
        cfg = {**CELLS["train_mean"], "epochs": args.stage1_epochs, "batch_size": args.batch, "lr_drop_fraction": 0.6}
        files = RunFiles(out, work / f"{out.stem}_history.csv", work / out.stem)
        exp.train_mean(train_npz, CELLS["model"], quirks, cfg, SEED, files, device="cpu")
    return out


def conditioning_callback(x_track: torch.Tensor, steps_per_epoch: int, rows: list[dict], name: str):
    """After every epoch: training NLL, held-out NLL and conditioning of the tracked held-out crops (z = μ_z)."""

    def cb(epoch: int, model: CellVAE, record: dict) -> None:
        rows.append(track(model, x_track, name, epoch, epoch * steps_per_epoch, record.get("train_nll", float("nan"))))

    return cb


def track(model: CellVAE, x_track: torch.Tensor, name: str, epoch: int, step: int, train_nll: float) -> dict:
    x = x_track.to(next(model.parameters()).dtype)
    frame = model_conditioning(model, x)
    gen = torch.Generator().manual_seed(derive_seed(SEED, "track"))
    val_nll = float(heldout_nll(model, x, 2, gen).mean()) / x[0].numel()
    return summary(frame, variant=name, epoch=epoch, step=step, train_nll=train_nll / x[0].numel(), val_nll=val_nll)


def stage2(v: Variant, train_npz: Path, mean_pt: Path, work: Path, args, x_track, trajectory: list[dict]) -> Path:
    """`exp.train_precision`'s stage 2 (same seeds, batches, loss, optimiser) with CellVAE overrides, a dtype and
    a conditioning callback."""
    out = work / f"{v.name}.pt"
    if out.exists():
        return out
    base, _ = load_model(mean_pt)
    seed_everything(derive_seed(SEED, v.likelihood))
    model = CellVAE(**{**base.hparams, "likelihood": v.likelihood, **dict(v.hparams)})
    model.load_mean_path(base)
    params = model.freeze_mean_path()
    dtype = getattr(torch, v.dtype)
    model.to(dtype)
    batches = exp.train_batches(train_npz, args.batch, v.transpose)
    batches.tensors = tuple(t.to(dtype) for t in batches.tensors)
    loss_fn = functools.partial(precision_stage_loss, l1_weight=v.l1)
    cfg = exp._train_config(
        {"epochs": args.stage2_epochs, "batch_size": args.batch, "lr": v.lr, "lr_drop_fraction": None},
        derive_seed(SEED, v.likelihood, "train"),
        "cpu",
    )
    callbacks = [conditioning_callback(x_track, len(batches), trajectory, v.name)] if v.likelihood == "supn" else []
    if callbacks:  # the initial (untrained) precision decoder, step 0
        trajectory.append(track(model, x_track, v.name, 0, 0, float("nan")))
    t0 = time.perf_counter()
    res = fit(model, loss_fn, batches, cfg, work / v.name, params=params, callbacks=callbacks, desc=v.name)
    save_model(model, out, {"history": res.history, "train_seconds": time.perf_counter() - t0})
    return out


# ------------------------------------------------------------------------------------------ evaluation
def summary(frame: pd.DataFrame, **extra) -> dict:
    """Medians (and worst cases) of the per-crop conditioning columns."""
    return {
        **extra,
        "diag_min": frame.diag_min.min(),
        "diag_median": frame.diag_median.median(),
        "diag_max": frame.diag_max.max(),
        "ratio_median": frame.ratio_median.median(),
        "ratio_max": frame.ratio_max.median(),
        "frac_rows_not_dominant": frame.frac_rows_not_dominant.median(),
        "log10_growth": np.log10(frame.solve_growth).median(),
        "sigma_min_rel": frame.sigma_min_rel.median(),
        "frac_singular": frame.singular.mean(),
    }


def evaluate(v: Variant, model_pt: Path, npz: Path, x_val: torch.Tensor, work: Path, args) -> dict:
    model, meta = load_model(model_pt)
    if v.z_mode == "mean":  # every "sample" is the posterior mean (sampled score = score at μ_z; restoration from μ_z)
        model.sample_z = lambda mu, logvar, generator=None: mu
    elif v.z_mode == "legacy":
        model.legacy_reparam = True
    dtype = next(model.parameters()).dtype
    x, masks, frame = exp.test_set(npz, {**CELLS["quirks"], "test_blur": v.test_blur})
    x, xv = x.to(dtype), x_val.to(dtype)
    labels = frame["label"].to_numpy()
    row = {"variant": v.name, "change": v.change}
    gen = torch.Generator().manual_seed(derive_seed(SEED, "val_nll"))
    row["val_nll_per_pixel"] = float(heldout_nll(model, xv, 4, gen).mean()) / x[0].numel()
    t0 = time.perf_counter()
    for variant, kw in (("sampled", {"n_samples": args.k}), ("restoration", {"steps": args.restoration_steps})):
        s = score_cells(model, x, masks, variant, seed=derive_seed(SEED, "score", v.likelihood, variant), **kw)
        row[f"auroc_{variant}"] = auroc(labels, s)
        frame[f"score_{variant}"] = s
    row["score_seconds"] = time.perf_counter() - t0
    crops = model_conditioning(model, x, singular_values=False)  # σ_min (Lanczos) on a subset, below
    sub = np.r_[np.flatnonzero(labels == 0)[:N_SIGMA], np.flatnonzero(labels == 1)[:N_SIGMA]]
    if v.likelihood == "supn":
        crops.loc[sub, ["sigma_min", "sigma_min_rel"]] = model_conditioning(model, x[sub])[
            ["sigma_min", "sigma_min_rel"]
        ].to_numpy()
    with torch.no_grad():
        z, _ = model.encode(x)
        mean, log_diag, off_diag, c = model.whitening(z)
    if v.likelihood == "supn":
        gen = torch.Generator().manual_seed(derive_seed(SEED, "fig4"))
        checked = sample_checked(mean, log_diag, off_diag, 1, c, gen, diag_epsilon=v.diag_epsilon)
        dev = (checked.samples[0] - mean).abs().flatten(1).amax(1).numpy()
        crops["sample_singular"] = checked.singular
        crops["sample_max_abs_dev"] = np.where(checked.singular, np.nan, dev)
        row["frac_sample_singular"] = checked.singular.mean()
        row["sample_max_abs_dev_median"] = (
            float(np.nanmedian(crops["sample_max_abs_dev"])) if (~checked.singular).any() else float("nan")
        )
        crops_val = model_conditioning(model, xv[:N_TRACK], singular_values=True)
        row["val_frac_singular"] = crops_val.singular.mean()
    row.update({f"test_{k}": val for k, val in summary(crops).items()})
    row["train_seconds"] = meta.get("train_seconds", float("nan"))
    pd.concat([frame, crops], axis=1).to_csv(work / f"crops_{v.name}.csv", index=False)
    return row


REPORT_COLUMNS = {
    "variant": "variant",
    "change": "change",
    "val_nll_per_pixel": "val_nll_per_pixel",
    "auroc_sampled": "auroc_sampled",
    "auroc_restoration": "auroc_restoration",
    "frac_sample_singular": "frac_singular",
    "test_diag_min": "diag_min",
    "test_diag_max": "diag_max",
    "test_ratio_median": "ratio_median",
    "test_ratio_max": "ratio_max",
    "test_frac_rows_not_dominant": "frac_rows_not_dominant",
    "test_log10_growth": "log10_growth",
    "test_sigma_min_rel": "sigma_min_rel",
    "sample_max_abs_dev_median": "sample_max_abs_dev",
    "train_seconds": "train_seconds",
}


def report(work: Path) -> pd.DataFrame:
    """<work>/table_variants.csv (the variants table, medians over the 201 test crops) and
    <work>/fig_conditioning.{png,pdf} (per-crop conditioning per variant + the stage-2 trajectories)."""
    from anoloc.plots import save_figure
    from anoloc.plots.cells import supn_conditioning

    done = pd.read_csv(work / "variants.csv")
    table = done[[c for c in REPORT_COLUMNS if c in done]].rename(columns=REPORT_COLUMNS)
    table.to_csv(work / "table_variants.csv", index=False, float_format="%.4g")
    crops = []
    for name in done["variant"]:
        f = work / f"crops_{name}.csv"
        if f.exists() and VARIANTS[name].likelihood == "supn" and VARIANTS[name].train:
            crops.append(pd.read_csv(f).assign(variant=name))
    traj = pd.read_csv(work / "trajectory.csv") if (work / "trajectory.csv").exists() else None
    if crops:
        save_figure(
            supn_conditioning(pd.concat(crops, ignore_index=True), by="variant", trajectory=traj),
            work / "fig_conditioning.png",
        )
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/fl_dataset")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--stage1-epochs", type=int, default=40)
    ap.add_argument("--stage2-epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--k", type=int, default=10, help="latent samples of the sampled score")
    ap.add_argument("--restoration-steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--report", action="store_true", help="only write the table and figure of a finished run")
    args = ap.parse_args()
    if args.report:
        print(report(args.work).to_string(index=False, float_format=lambda f: f"{f:.4g}"))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    npz = work / "cells.npz"
    if not npz.exists():
        counts = {"healthy_train": 1315, "healthy_test": 101, "infected": 100}  # the published FL dataset
        cells_data.prepare(
            {**CELLS["data"], "source": "path", "path": args.data, "counts": counts}, work / "cache", npz
        )
    train_npz, x_val = split_data(npz, work)
    x_track = x_val[:N_TRACK]
    done_csv, traj_csv = work / "variants.csv", work / "trajectory.csv"
    done = pd.read_csv(done_csv) if done_csv.exists() else pd.DataFrame(columns=["variant"])
    for name in args.variants:
        v = VARIANTS[name]
        if name in set(done["variant"]):
            continue
        log.info("variant %s: %s", name, v.change)
        mean_pt = stage1(train_npz, work, args, v.transpose)
        if v.likelihood == "fixed":
            model_pt = mean_pt
        elif v.train:
            trajectory: list[dict] = []
            model_pt = stage2(v, train_npz, mean_pt, work, args, x_track, trajectory)
            if trajectory:
                old = pd.read_csv(traj_csv) if traj_csv.exists() else pd.DataFrame()
                pd.concat([old, pd.DataFrame(trajectory)], ignore_index=True).to_csv(traj_csv, index=False)
        else:
            model_pt = work / f"{v.base}.pt"
            if not model_pt.exists():
                raise SystemExit(f"variant {name} evaluates {v.base}: run that variant first")
        row = evaluate(v, model_pt, npz, x_val, work, args)
        log.info("variant %s: %s", name, row)
        done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
        done.to_csv(done_csv, index=False)
    print(report(work).to_string(index=False, float_format=lambda f: f"{f:.4g}"))


if __name__ == "__main__":
    main()
