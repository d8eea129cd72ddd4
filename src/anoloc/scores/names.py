"""Names of every score and method of the project, and how figures label them (torch-free).

One place: the rules, the tables and the plots all read these tuples, so adding a score or a method means adding it
here (and implementing it) — nothing else spells the lists out.
"""

from __future__ import annotations

# ---------------------------------------------------------------- Zimmerer et al. 2019 (VAE scores)
SAMPLE_SCORES = ("kl", "rec", "elbo")  # per image / slice: KL term, reconstruction NLL, their sum (negative ELBO)
PIXEL_SCORES = ("rec", "elbo_grad", "kl_grad", "rec_grad", "combi")  # per pixel (brain)
SLICE_SCORES = SAMPLE_SCORES  # per slice (brain), the same three terms
COMBI_NORMS = ("batch", "slice", "global")

# ----------------------------------------------------------- Vodenicharski et al. 2022 (cell scores)
CELL_VAE_MODELS = ("supn", "diag", "l2")  # decoders: SUPN precision, diagonal Gaussian, fixed-variance mean
CELL_INFERENCES = ("restoration", "sampled")  # how the latent is chosen when a cell is scored (released order)
CELL_VAE_METHODS = tuple(f"{m}_{v}" for v in CELL_INFERENCES for m in CELL_VAE_MODELS)
CELL_STAGES = ("mean", "supn", "diag")  # trained models: stage 1 (encoder + mean), stage 2 (two precisions)

# ------------------------------------------------------------------------- kNN feature methods
KNN_METHODS = ("spade", "padim", "patchcore")

# ------------------------------------------------------------------------------- simple baselines
BASELINES = ("zscore", "nearest")  # per-pixel intensity z-score threshold; raw-pixel nearest normal image

# --------------------------------------------------------------------- the method × dataset matrix
# the VAE scores of Zimmerer et al. as matrix methods: `vae_rec` has an image (sample Rec) and a pixel (Rec map)
# output, the KL and ELBO terms an image output only, the gradient maps and Combi a pixel output only
VAE_METHODS = tuple(f"vae_{s}" for s in dict.fromkeys(SAMPLE_SCORES + PIXEL_SCORES))
MATRIX_METHODS = VAE_METHODS + CELL_VAE_METHODS + KNN_METHODS + BASELINES
MATRIX_DATASETS = ("mnist", "fashion_mnist", "brain", "cells", "mvtec")
MATRIX_JOBS = KNN_METHODS + BASELINES  # methods the matrix fits and scores in one job (the conv VAE trains first)

# ------------------------------------------------------------------------------- display labels
SCORE_LABELS = {
    "kl": "KL",
    "rec": "Rec",
    "elbo": "ELBO",
    "elbo_grad": "ELBO-Grad",
    "kl_grad": "KL-Grad",
    "rec_grad": "Rec-Grad",
    "combi": "Combi",
}
METHOD_LABELS = {
    "supn": "SUPN",
    "diag": "Diag",
    "l2": "L2",
    "spade": "SPADE",
    "padim": "PaDiM",
    "patchcore": "PatchCore",
    "zscore": "Z-score",
    "nearest": "Raw NN",
}
DATASET_LABELS = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "brain": "Brain",
    "cells": "Cells",
    "mvtec": "MVTec",
}


def cell_stage_of(model: str) -> str:
    """The trained model a cell method scores with: L2 is the stage-1 (mean) model with a fixed variance."""
    return "mean" if model == "l2" else model


def matrix_label(method: str) -> str:
    """Display label of a matrix method, e.g. `vae_kl_grad` → 'VAE KL-Grad', `supn_sampled` → 'SUPN sampled'."""
    if method.startswith("vae_"):
        return f"VAE {SCORE_LABELS[method[4:]]}"
    model, _, inference = method.rpartition("_")
    if inference in CELL_INFERENCES:
        return f"{METHOD_LABELS[model]} {inference}"
    return METHOD_LABELS[method]
