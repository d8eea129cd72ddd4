"""Pixel-wise brain MRI experiment (vae-kl-grad spec §3–§5): HCP (healthy) → BraTS (tumours).

Steps: (synthetic cohort) → preprocess one subject → train the conv VAE on HCP → score BraTS and the held-out
HCP validation slices → table2 (pixel AUROC / AP / oracle Dice, slice-level AUROC / AP) and table3 (threshold
calibration on 1/5 of the patients, Dice on the other 4/5, and a threshold from healthy data alone).

Heavy modules (torch, nibabel, scikit-image, scikit-learn, pandas) are imported inside the functions that need
them: the table functions run in the plotting environment, and the many small per-subject jobs start fast.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anoloc.utils import AnolocError, PathLike, atomic_path

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

PIXEL_SCORES = ("rec", "elbo_grad", "kl_grad", "rec_grad", "combi")  # = anoloc.scores.PIXEL_SCORES
SLICE_SCORES = ("kl", "rec", "elbo")


# ------------------------------------------------------------------------------------------------ data
def make_template(out: PathLike, smooth_mm: float) -> None:
    """The MNI152 tissue template of the synthetic cohort (read from nilearn's bundled files)."""
    from anoloc.data.brain.synthetic import build_template, save_template

    save_template(build_template(smooth_mm), out)


def generate_subject(
    template: PathLike,
    dataset: str,
    subject: str,
    synthetic_cfg: Mapping[str, Any],
    t2_out: PathLike,
    seg_out: PathLike | None = None,
    grade: str | None = None,
) -> None:
    """Write one synthetic subject's NIfTI file(s) (the paths are those of the HCP / BraTS layouts)."""
    from anoloc.data.brain.synthetic import SyntheticConfig, generate_subject, load_template, write_nifti

    t2, seg, affine = generate_subject(
        load_template(template), dataset, subject, SyntheticConfig.from_dict(synthetic_cfg), grade=grade
    )
    write_nifti(t2, affine, t2_out)
    if seg_out is not None:
        if seg is None:
            raise ValueError("a segmentation output was asked for a subject without tumour")
        write_nifti(seg, affine, seg_out)
    log.info("synthetic %s subject %s -> %s", dataset, subject, t2_out)


def preprocess(
    t2: PathLike, seg: PathLike | None, dataset: str, subject: str, cfg: Mapping[str, Any], out: PathLike
) -> dict[str, np.ndarray]:
    """Preprocess one subject's NIfTI volume(s) into `out` (.npz)."""
    from anoloc.data.brain.preprocess import PreprocessConfig, preprocess_volume, save_subject

    arrays = preprocess_volume(t2, seg, PreprocessConfig.from_dict(cfg))
    save_subject(arrays, out, subject=subject, dataset=dataset)
    log.info(
        "%s %s: %d slices, %d tumour pixels -> %s", dataset, subject, len(arrays["image"]), arrays["label"].sum(), out
    )
    return arrays


# ------------------------------------------------------------------------------------------- training
def train(
    train_files: Sequence[PathLike],
    val_files: Sequence[PathLike],
    seed: int,
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    clip: float,
    model_out: PathLike,
    run_dir: PathLike,
    tensorboard_dir: PathLike | None = None,
    device: str = "auto",
) -> Any:
    """Train the conv VAE on the HCP training slices (validation: the held-out HCP subjects); save model.pt."""
    import torch

    from anoloc.data.brain.augment import BrainAugment
    from anoloc.data.brain.preprocess import load_slices
    from anoloc.data.loaders import TensorBatches
    from anoloc.models import save_model
    from anoloc.models.conv_vae import ConvVAE
    from anoloc.models.vae import elbo_loss
    from anoloc.train import TrainConfig, fit
    from anoloc.utils import seed_everything

    tr, va = load_slices(train_files), load_slices(val_files)
    x_tr = torch.from_numpy(tr.image).unsqueeze(1)
    x_va = torch.from_numpy(va.image).unsqueeze(1)
    aug_cfg = dict(train_cfg.get("augment", {}))
    transform = BrainAugment.from_dict(aug_cfg, clip=clip) if aug_cfg.get("enabled", True) else None
    bs = int(train_cfg["batch_size"])
    train_batches = TensorBatches([x_tr], bs, shuffle=True, transform=transform)
    val_batches = TensorBatches([x_va], bs)
    seed_everything(seed)  # weight initialisation
    model = ConvVAE(
        image_size=int(x_tr.shape[-1]),
        h_sizes=model_cfg["h_sizes"],
        z=int(model_cfg["z"]),
        log_c=float(model_cfg["log_c"]),
        legacy_sigma=bool(model_cfg["legacy_sigma"]),
    )
    cfg = TrainConfig.from_dict(dict(train_cfg), seed=seed, device=device)
    result = fit(
        model,
        elbo_loss,
        train_batches,
        cfg,
        run_dir,
        val_batches=val_batches,
        tensorboard_dir=tensorboard_dir,
        fingerprint_extra={
            "train": tr.subjects,
            "val": va.subjects,
            "n_train": len(tr),
            "batch_size": bs,
            "augment": repr(transform),
        },
        desc=f"brain seed {seed}",
    )
    meta = {
        "seed": seed,
        "train": dict(train_cfg),
        "history": result.history,
        "train_subjects": tr.subjects,
        "val_subjects": va.subjects,
        "n_train_slices": len(tr),
        "n_val_slices": len(va),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
    }
    save_model(model, model_out, meta)
    log.info("trained %d epochs on %d slices (%d subjects)", result.epochs_run, len(tr), len(tr.subjects))
    return result


# -------------------------------------------------------------------------------------------- scoring
def score_slices(
    model: Any,
    images: np.ndarray,
    batch_size: int = 64,
    combi_norm: str = "batch",
    kl_range: tuple[float, float] | None = None,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Pixel maps (`PIXEL_SCORES`, (N, H, W)), the reconstruction, slice-level `slice_kl/rec/elbo` and the
    range `kl_grad_range` of the raw |∂KL/∂x| of the slices `images` (N, H, W), in batches of `batch_size`.

    `combi_norm="global"`: the combi map is normalised by `kl_range` if given, else by the range over all
    `images` (post hoc, `anoloc.scores.global_combi`).
    """
    import torch

    from anoloc.scores import global_combi, pixel_scores
    from anoloc.utils import resolve_device

    dev = resolve_device(device)
    model.eval().to(dev)
    n, h, w = images.shape
    out = {k: np.empty((n, h, w), np.float32) for k in (*PIXEL_SCORES, "reconstruction")}
    for k in SLICE_SCORES:
        out[f"slice_{k}"] = np.empty(n, np.float64)
    lo, hi = np.inf, -np.inf
    post_hoc = combi_norm == "global" and kl_range is None
    for start in range(0, n, batch_size):
        sl = slice(start, min(start + batch_size, n))
        x = torch.from_numpy(np.ascontiguousarray(images[sl])).unsqueeze(1).to(dev)
        maps = pixel_scores(
            model, x, combi_norm="batch" if post_hoc else combi_norm, kl_range=kl_range, return_raw=True
        )
        raw = maps.pop("kl_grad_raw")
        lo, hi = min(lo, float(raw.min())), max(hi, float(raw.max()))
        for k, v in maps.items():
            out[k][sl] = v[:, 0].cpu().numpy()
        with torch.no_grad():
            t = model.terms(x, sample=False)
        out["reconstruction"][sl] = t["mean"][:, 0].cpu().numpy()
        for k in SLICE_SCORES:
            out[f"slice_{k}"][sl] = t[k].double().cpu().numpy()
    if post_hoc:
        for start in range(0, n, batch_size):
            sl = slice(start, min(start + batch_size, n))
            kg, rec = (torch.from_numpy(out[k][sl]).unsqueeze(1) for k in ("kl_grad", "rec"))
            out["combi"][sl] = global_combi(kg, rec, lo, hi)[:, 0].numpy()
    out["kl_grad_range"] = np.array([lo, hi])
    return out


def score(
    model_path: PathLike,
    brats_files: Sequence[PathLike],
    hcp_val_files: Sequence[PathLike],
    score_cfg: Mapping[str, Any],
    brats_out: PathLike,
    hcp_val_out: PathLike,
    device: str = "auto",
) -> None:
    """Score every BraTS slice (full maps → `brats_out`) and the held-out HCP validation slices (per-score
    brain-pixel values and slice scores → `hcp_val_out`, for the healthy-percentile threshold)."""
    from anoloc.data.brain.preprocess import load_slices
    from anoloc.models import load_model

    model, _ = load_model(model_path)
    bs, norm = int(score_cfg["batch_size"]), str(score_cfg["combi_norm"])
    brats = load_slices(brats_files)
    s = score_slices(model, brats.image, bs, norm, device=device)
    meta = {"combi_norm": np.array(norm), "batch_size": np.array(bs)}
    _save_npz(
        brats_out,
        image=brats.image,
        label=brats.label,
        brain_mask=brats.brain_mask,
        subject=brats.subject,
        slice_index=brats.slice_index,
        tumour_voxels=brats.tumour_voxels,
        **s,
        **meta,
    )
    hv = load_slices(hcp_val_files)
    kl_range = tuple(s["kl_grad_range"]) if norm == "global" else None  # the test set's range
    sh = score_slices(model, hv.image, bs, norm, kl_range=kl_range, device=device)
    mask = hv.brain_mask
    _save_npz(
        hcp_val_out,
        subject=hv.subject,
        **{f"{k}_brain": sh[k][mask] for k in PIXEL_SCORES},
        **{f"slice_{k}": sh[f"slice_{k}"] for k in SLICE_SCORES},
        **meta,
    )
    log.info("scored %d BraTS and %d HCP validation slices", len(brats), len(hv))


def _save_npz(path: PathLike, **arrays: Any) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_scores(path: PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as exc:
        raise AnolocError(f"{path} is not a readable brain score file ({exc}); delete it and rerun") from exc


# --------------------------------------------------------------------------------------------- tables
def slice_sets(tumour_voxels: np.ndarray, diseased_min_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """(healthy, diseased) slice masks: healthy = no tumour voxel, diseased = more than `diseased_min_voxels`;
    slices in between belong to neither (spec §3.5)."""
    tv = np.asarray(tumour_voxels)
    return tv == 0, tv > int(diseased_min_voxels)


def _best(y: np.ndarray, v: np.ndarray, order: np.ndarray, sel: np.ndarray | None, method: str, n_grid: int):
    """Best Dice threshold on the pixels `sel` (all if None); the exact sweep reuses the global order."""
    from anoloc.calibrate import best_threshold

    if method == "exact":
        return best_threshold(y, v, "exact", order=order if sel is None else order[sel[order]])
    return best_threshold(y if sel is None else y[sel], v if sel is None else v[sel], method, n_grid)


def _descending(v: np.ndarray) -> np.ndarray:
    return np.argsort(v, kind="stable")[::-1]


def table2_rows(s: Mapping[str, np.ndarray], seed: int, eval_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pixel-level rows (pooled over all slices, and inside the brain mask) and slice-level rows of one run."""
    from anoloc.metrics import auroc, average_precision, pooled_curves

    method, n_grid = str(eval_cfg["threshold_search"]), int(eval_cfg.get("n_grid", 2000))
    y, mask = s["label"].ravel(), s["brain_mask"].ravel()
    rows = []
    for k in PIXEL_SCORES:
        v = s[k].ravel()
        order = _descending(v)  # one sort per score serves every metric below
        whole, brain = pooled_curves(y, v, order), pooled_curves(y, v, order[mask[order]])
        thr, d = _best(y, v, order, None, method, n_grid)
        _, d_brain = _best(y, v, order, mask, method, n_grid)
        rows.append(
            {
                "seed": seed,
                "level": "pixel",
                "score": k,
                "auroc": whole["auroc"],
                "ap": whole["ap"],
                "auroc_brain": brain["auroc"],
                "ap_brain": brain["ap"],
                "dice_oracle": d,
                "threshold_oracle": thr,
                "dice_oracle_brain": d_brain,
                "n_positive": int(y.sum()),
                "n_negative": int(y.size - y.sum()),
            }
        )
    healthy, diseased = slice_sets(s["tumour_voxels"], int(eval_cfg["diseased_min_voxels"]))
    sel = healthy | diseased
    for k in SLICE_SCORES:
        v = s[f"slice_{k}"][sel]
        rows.append(
            {
                "seed": seed,
                "level": "slice",
                "score": k,
                "auroc": auroc(diseased[sel], v),
                "ap": average_precision(diseased[sel], v),
                "n_positive": int(diseased.sum()),
                "n_negative": int(healthy.sum()),
            }
        )
    return rows


TABLE2_COLUMNS = [
    "seed",
    "level",
    "score",
    "auroc",
    "ap",
    "auroc_brain",
    "ap_brain",
    "dice_oracle",
    "threshold_oracle",
    "dice_oracle_brain",
    "n_positive",
    "n_negative",
]


def table2(score_files: Sequence[tuple[int, PathLike]], eval_cfg: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    rows = [r for seed, path in score_files for r in table2_rows(load_scores(path), seed, eval_cfg)]
    if not rows:
        raise AnolocError("table2: no score files given")
    return pd.DataFrame(rows).reindex(columns=TABLE2_COLUMNS)


def table3_rows(
    s: Mapping[str, np.ndarray], healthy: Mapping[str, np.ndarray], seed: int, eval_cfg: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Calibration rows of one run: per score and patient split, the threshold maximising Dice on the
    calibration patients (1/5), its Dice on the evaluation patients (4/5), the oracle Dice on the 4/5, and
    the Dice on the 4/5 of the healthy-percentile threshold."""
    from anoloc.calibrate import dice_at, healthy_threshold, patient_splits

    method, n_grid = str(eval_cfg["threshold_search"]), int(eval_cfg.get("n_grid", 2000))
    pct = float(eval_cfg["healthy_percentile"])
    splits = patient_splits(
        list(s["subject"]), int(eval_cfg["n_splits"]), float(eval_cfg["calib_fraction"]), int(eval_cfg["split_seed"])
    )
    pixels_per_slice = int(np.prod(s["label"].shape[1:]))
    y, subj = s["label"].ravel(), s["subject"]
    masks = [
        tuple(np.repeat(np.isin(subj, part), pixels_per_slice) for part in (calib, evaluation))
        for calib, evaluation in splits
    ]
    rows = []
    for k in PIXEL_SCORES:
        v = s[k].ravel()
        order = _descending(v) if method == "exact" else None
        thr_h = healthy_threshold(healthy[f"{k}_brain"], pct)
        for i, ((calib, evaluation), (c, e)) in enumerate(zip(splits, masks, strict=True)):
            thr, d_fit = _best(y, v, order, c, method, n_grid)
            thr_o, d_o = _best(y, v, order, e, method, n_grid)
            ye, ve = y[e], v[e]
            rows.append(
                {
                    "seed": seed,
                    "score": k,
                    "split": i,
                    "n_calib_patients": len(calib),
                    "n_eval_patients": len(evaluation),
                    "threshold": thr,
                    "dice_fit": d_fit,
                    "dice_calib": dice_at(ye, ve, thr),
                    "threshold_oracle": thr_o,
                    "dice_oracle": d_o,
                    "threshold_healthy": thr_h,
                    "dice_healthy": dice_at(ye, ve, thr_h),
                }
            )
    return rows


def table3(
    score_files: Sequence[tuple[int, PathLike, PathLike]], eval_cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table3, summary): `score_files` are (seed, BraTS scores, HCP validation scores)."""
    import pandas as pd

    from anoloc.tables import summarise

    rows = [
        r
        for seed, brats, hcp_val in score_files
        for r in table3_rows(load_scores(brats), load_scores(hcp_val), seed, eval_cfg)
    ]
    if not rows:
        raise AnolocError("table3: no score files given")
    t3 = pd.DataFrame(rows)
    summary = summarise(t3, ["score"], ["dice_calib", "dice_oracle", "dice_healthy", "threshold"], n_name="n_runs")
    order = {k: i for i, k in enumerate(PIXEL_SCORES)}
    summary = summary.sort_values("score", key=lambda c: c.map(order)).reset_index(drop=True)
    return t3, summary


def write_tables(
    brats_scores: Sequence[PathLike],
    hcp_val_scores: Sequence[PathLike],
    seeds: Sequence[int],
    eval_cfg: Mapping[str, Any],
    table2_path: PathLike,
    table3_path: PathLike,
    summary_path: PathLike,
) -> None:
    from anoloc.tables import write_csv

    write_csv(table2(list(zip(seeds, brats_scores, strict=True)), eval_cfg), table2_path)
    t3, summary = table3(list(zip(seeds, brats_scores, hcp_val_scores, strict=True)), eval_cfg)
    write_csv(t3, table3_path)
    write_csv(summary, summary_path)
