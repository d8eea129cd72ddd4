"""fig4 marks singular / projected SUPN samples; the conditioning figure builds from a diagnostics table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anoloc.plots.cells import fig4_maps, supn_conditioning


def _panels(n=3):
    rng = np.random.default_rng(0)
    panels = {k: rng.normal(size=(n, 16, 16)) for k in ("input", "mean", "supn_sample")}
    panels |= {k: rng.random((n, 16, 16)) for k in ("l2_map", "diag_map", "supn_map")}
    panels |= {"mask": rng.random((n, 16, 16)) > 0.5, "label": np.array([0, 1, 1]), "name": np.array(["a", "b", "c"])}
    panels["supn_sample"] = panels["mean"] + 0.1 * panels["supn_sample"]  # a sample within the image range
    return panels


def _texts(fig, row, col=5):
    return [t.get_text() for t in fig.axes[row * 6 + col].texts]


def test_fig4_marks_singular_and_projected_samples():
    panels = _panels()
    panels["supn_sample"][1] = np.nan
    panels["supn_singular"] = np.array([False, True, True])
    panels["supn_repaired"] = np.array([False, False, True])
    fig = fig4_maps(panels)
    assert _texts(fig, 0) == [] and _texts(fig, 1) == ["singular\nprecision"] and _texts(fig, 2) == ["ρ̄-projected"]


def test_fig4_without_flags_infers_singular_from_a_nan_sample():
    panels = _panels()
    panels["supn_sample"][2] = np.nan
    panels["supn_sample"][0] = 1e6  # finite but far outside the image range: labelled with its spread
    fig = fig4_maps(panels)
    assert _texts(fig, 2) == ["singular\nprecision"] and _texts(fig, 1) == []
    assert _texts(fig, 0)[0].startswith("max |x − μ| =")


def test_supn_conditioning_figure():
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {
            "model": ["supn"] * 5 + ["diag"] * 5,
            "diag_min": rng.random(10),
            "ratio_max": np.r_[rng.random(5) * 3, np.zeros(5)],
            "solve_growth": np.r_[np.inf, 1e20, 1e3, 1e14, 5.0, np.ones(5)],
            "sigma_min_rel": np.r_[0.0, 1e-20, 1e-3, 1e-15, 0.2, np.full(5, np.nan)],
        }
    )
    fig = supn_conditioning(pd.concat([d.iloc[:5], d.iloc[5:]]).set_index(np.zeros(10, dtype=int)))  # any index
    assert sum(ax.get_visible() for ax in fig.axes) == 4
    traj = pd.DataFrame(
        {
            "variant": ["supn"] * 3 + ["bound"] * 3,
            "step": [0, 10, 20] * 2,
            "ratio_max": [2, 2.5, 3, 0.2, 0.4, 0.5],
            "log10_growth": [15, 30, 300, 0, 0.1, 0.2],
            "val_nll": [0.9, 0.5, 0.3, 0.9, 0.6, 0.5],
            "frac_singular": [1, 1, 1, 0, 0, 0],
        }
    )
    fig = supn_conditioning(d, trajectory=traj)
    assert sum(ax.get_visible() for ax in fig.axes) == 8
    assert fig.axes[7].get_legend() is not None
