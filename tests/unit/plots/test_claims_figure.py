"""The claims figure: one labelled row per ledger row, in panels by verdict rule, coloured by verdict."""

from __future__ import annotations

import math

import matplotlib.colors as mcolors
import pandas as pd
import pytest

from anoloc.experiments.claims.tables import LEDGER_COLUMNS
from anoloc.plots import save_figure
from anoloc.plots.claims import VERDICT_COLOURS, claims_figure
from anoloc.verdicts import INCONCLUSIVE, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED


def ledger() -> pd.DataFrame:
    base = dict.fromkeys(LEDGER_COLUMNS, "")
    rows = [
        base | {"claim_id": "kl_elbo_beat_rec", "rule": "most_cases", "effect": 0.9, "ci_low": 0.6, "ci_high": 1.0,
                "reference": 0.5, "tolerance": math.nan, "verdict": REPRODUCED},
        base | {"claim_id": "cells_supn_beats_diag", "rule": "directional", "effect": -0.05, "ci_low": -0.08,
                "ci_high": -0.02, "reference": 0.0, "tolerance": math.nan, "verdict": NOT_REPRODUCED},
        base | {"claim_id": "cells_supn_beats_l2", "rule": "directional", "effect": 0.01, "ci_low": -0.02,
                "ci_high": 0.04, "reference": 0.0, "tolerance": math.nan, "verdict": INCONCLUSIVE},
        base | {"claim_id": "mvtec_spade_published", "rule": "within_tolerance", "effect": math.nan,
                "ci_low": math.nan, "ci_high": math.nan, "reference": 0.0, "tolerance": 0.02, "verdict": NOT_MEASURED},
    ]  # fmt: skip
    return pd.DataFrame(rows).assign(dataset="d", variant="corrected")


def test_claims_figure_has_one_row_per_ledger_row(tmp_path):
    fig = claims_figure(ledger())
    axes = fig.axes
    assert len(axes) == 3  # most cases, directional, tolerance
    labels = [t.get_text() for ax in axes for t in ax.get_yticklabels()]
    assert len(labels) == 4 and labels[0].startswith("(Fashion)MNIST: KL or ELBO beats Rec")
    # the not-measured row is written, not drawn; the reproduced point has the reproduced colour
    assert any(t.get_text().strip() == NOT_MEASURED for t in axes[2].texts)
    points = [ln for ln in axes[0].lines if ln.get_marker() == "o"]
    assert mcolors.to_hex(points[0].get_color()) == VERDICT_COLOURS[REPRODUCED].lower()
    save_figure(fig, tmp_path / "claims.png")
    assert (tmp_path / "claims.png").stat().st_size > 0 and (tmp_path / "claims.pdf").stat().st_size > 0


def test_claims_figure_refuses_an_empty_ledger():
    with pytest.raises(ValueError, match="no rows"):
        claims_figure(pd.DataFrame(columns=LEDGER_COLUMNS))
