"""The code variants of the paper experiments, defined in this one place.

- `corrected`: the maths as the papers describe it — the experiment's config section as given (every switch that
  reproduces a quirk of the released code defaults to off);
- `released`: the same section with every switch that reproduces the released reference code of that experiment
  switched on together (vae-kl-grad spec §6, supn-cells spec §7);
- our deviations (`DEVIATIONS`), for the experiments they apply to, never the published model and always reported
  beside it: `bounded` (cells) = `corrected` with the SUPN off-diagonals bounded, Σ|w| < ρ̄·exp(ℓ) with ρ̄ = 0.99,
  the bound with the best likelihood on held-out healthy training crops (docs/cells.md, "SUPN conditioning"). It
  changes stage 2 only, so it shares the stage-1 model of `corrected` (`stage1_variant`).

A variant is a wildcard of the result paths and a column of every table, so both run side by side in one workflow
(`<experiment>.variants` in the config). The MVTec experiment (SPADE / PaDiM / PatchCore) has no variants: its
released-code switches (`mvtec.padim.eps`, `mvtec.patchcore.legacy_*`) are single settings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

VARIANTS = ("corrected", "released", "bounded")

RELEASED: dict[str, dict[str, Any]] = {
    # the released FashionMNIST script: σ mix-up (std exp(h/2) to sample, exp(h) in the KL), one posterior sample
    # at test time
    "mnist": {"model": {"legacy_sigma": True}, "score": {"n_samples": 1}},
    # the released brain script: σ mix-up of the conv VAE, 5 epochs at a constant learning rate, no early stopping,
    # diseased slices > 10 voxels, the 8-step threshold search with its bookkeeping bug
    "brain": {
        "model": {"legacy_sigma": True},
        "train": {"schedule": "constant", "epochs": 5, "early_stopping_patience": None, "restore_best": False},
        "evaluate": {"diseased_min_voxels": 10, "threshold_search": "legacy"},
    },
    # the released SUPN code: every quirk of supn-cells spec §7 (the L1 weight varies between its runs: kept as set)
    "cells": {
        "quirks": {
            "legacy_reparam": True,
            "legacy_diag_quarter": True,
            "legacy_logvar_bias_init": True,
            "legacy_transpose": True,
            "test_blur": True,
        }
    },
}


# our deviations: variant → the settings it changes, per experiment it applies to
DEVIATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "cells": {"bounded": {"model": {"offdiag_bound": 0.99}}},
}
# a deviation that changes stage 2 only → the variant whose stage-1 model it reuses
STAGE1: dict[str, str] = {"bounded": "corrected"}


def available(experiment: str) -> tuple[str, ...]:
    """The variants `experiment` can run: corrected, released and its deviations."""
    return ("corrected", "released", *DEVIATIONS.get(experiment, {}))


def stage1_variant(variant: str) -> str:
    """The variant whose stage-1 (encoder + mean) model `variant` uses (itself unless it changes stage 2 only)."""
    return STAGE1.get(variant, variant)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def apply(experiment: str, section: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """The config section of `experiment` as the variant runs it (a copy; `section` is left unchanged)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {VARIANTS}")
    if variant not in available(experiment):
        raise ValueError(f"variant {variant!r} does not apply to {experiment}; one of {available(experiment)}")
    out = copy.deepcopy(dict(section))
    if variant == "released":
        return _merge(out, RELEASED[experiment])
    return _merge(out, DEVIATIONS.get(experiment, {}).get(variant, {}))


def overrides(experiment: str, variant: str = "released") -> list[tuple[str, Any]]:
    """A variant's settings as (dotted key, value) pairs, e.g. ("model.legacy_sigma", True) (default: released)."""

    def walk(prefix: str, d: Mapping[str, Any]):
        for k, v in d.items():
            if isinstance(v, Mapping):
                yield from walk(f"{prefix}{k}.", v)
            else:
                yield f"{prefix}{k}", v

    settings = RELEASED[experiment] if variant == "released" else DEVIATIONS.get(experiment, {}).get(variant, {})
    return list(walk("", settings))
