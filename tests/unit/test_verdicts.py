"""Verdict rules on constructed tables: a clear win, a clear loss, a tie, too few samples, missing data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anoloc import stats, verdicts
from anoloc.verdicts import INCONCLUSIVE, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED


def directional_table() -> pd.DataFrame:
    """One row per situation: (effect, ci_low, ci_high, n) of A − B for the claim 'A beats B'."""
    return pd.DataFrame(
        [
            ("clear win", 0.08, 0.05, 0.11, 200, REPRODUCED),
            ("clear loss", -0.08, -0.11, -0.05, 200, NOT_REPRODUCED),
            ("tie", 0.001, -0.02, 0.022, 200, INCONCLUSIVE),
            ("wrong side beyond margin", -0.03, -0.07, 0.01, 200, NOT_REPRODUCED),
            ("wrong side within margin", -0.005, -0.04, 0.03, 200, INCONCLUSIVE),
            ("too few samples", 0.3, 0.1, 0.5, 6, INCONCLUSIVE),
            ("missing", np.nan, np.nan, np.nan, 0, NOT_MEASURED),
            ("no interval", 0.05, np.nan, np.nan, 200, INCONCLUSIVE),
        ],
        columns=["case", "effect", "ci_low", "ci_high", "n", "expected"],
    )


def test_directional_rule_on_a_constructed_table():
    t = directional_table()
    got = [
        verdicts.directional(r.effect, r.ci_low, r.ci_high, n=int(r.n), p_value=0.01).verdict for r in t.itertuples()
    ]
    assert got == list(t["expected"]), dict(zip(t["case"], got, strict=True))
    assert all(v in verdicts.VERDICTS for v in got)


def test_directional_less_mirrors_greater_and_reasons_say_why():
    for r in directional_table().itertuples():
        g = verdicts.directional(r.effect, r.ci_low, r.ci_high, n=int(r.n))
        m = verdicts.directional(-r.effect, -r.ci_high, -r.ci_low, n=int(r.n), direction="less")
        assert g.verdict == m.verdict
    win = verdicts.directional(0.08, 0.05, 0.11, n=200, p_value=0.001)
    assert "entirely above 0" in win.reason and "+0.080" in win.reason and "p=0.001" in win.reason
    few = verdicts.directional(0.3, 0.1, 0.5, n=6)
    assert "n=6 < 10" in few.reason
    gone = verdicts.directional(None, None, None, n=None, missing_reason="config has no brain sweep")
    assert gone == verdicts.Verdict(NOT_MEASURED, "config has no brain sweep")
    assert verdicts.directional(-0.03, -0.07, 0.01, n=200, margin=0.05).verdict == INCONCLUSIVE
    assert verdicts.directional(pd.NA, 0.0, 1.0, n=10).verdict == NOT_MEASURED


def test_directional_verdicts_from_real_statistics():
    """The rule applied to DeLong results of a constructed clear win, clear loss and tie."""
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    strong, weak = rng.normal(size=400) + 2 * y, rng.normal(size=400) + 0.3 * y
    for a, b, expected in [(strong, weak, REPRODUCED), (weak, strong, NOT_REPRODUCED), (strong, strong, INCONCLUSIVE)]:
        r = stats.delong_paired(y, a, b)
        assert verdicts.directional(r.estimate, r.ci_low, r.ci_high, n=r.n).verdict == expected


def test_most_cases_rule():
    def verdict(won: int, n: int) -> str:
        f = stats.fraction_won(np.r_[np.ones(won), -np.ones(n - won)])
        return verdicts.most_cases(f.fraction, f.ci_low, f.ci_high, n=f.n_cells, n_won=f.n_won).verdict

    assert verdict(19, 20) == REPRODUCED  # Clopper–Pearson lower bound 0.75
    assert verdict(1, 20) == NOT_REPRODUCED  # upper bound 0.25
    assert verdict(8, 20) == NOT_REPRODUCED  # fewer than half won (interval includes ½)
    assert verdict(12, 20) == INCONCLUSIVE  # more than half, interval includes ½
    assert verdict(10, 20) == INCONCLUSIVE  # exactly half
    assert verdict(3, 3) == INCONCLUSIVE  # too few cells
    assert verdicts.most_cases(np.nan, np.nan, np.nan, n=0).verdict == NOT_MEASURED
    r = verdicts.most_cases(0.95, 0.75, 0.999, n=20, n_won=19)
    assert "won 19/20 cells" in r.reason and "lower bound above 0.5" in r.reason


def test_within_tolerance_rule():
    pub, tol = 0.981, 0.02
    assert verdicts.within_tolerance(0.975, 0.968, 0.982, target=pub, tolerance=tol).verdict == REPRODUCED
    assert verdicts.within_tolerance(0.93, 0.92, 0.94, target=pub, tolerance=tol).verdict == NOT_REPRODUCED
    assert verdicts.within_tolerance(0.962, 0.95, 0.975, target=pub, tolerance=tol).verdict == INCONCLUSIVE
    point = verdicts.within_tolerance(0.975, None, None, target=pub, tolerance=tol)
    assert point.verdict == REPRODUCED and "no interval" in point.reason
    assert verdicts.within_tolerance(0.9, None, None, target=pub, tolerance=tol).verdict == NOT_REPRODUCED
    strict = verdicts.within_tolerance(0.975, None, None, target=pub, tolerance=tol, require_interval=True)
    assert strict.verdict == INCONCLUSIVE
    synthetic = verdicts.within_tolerance(np.nan, None, None, target=pub, tolerance=tol, missing_reason="not MVTec")
    assert synthetic == verdicts.Verdict(NOT_MEASURED, "not MVTec")
    # "close to the oracle": a difference near 0
    assert verdicts.within_tolerance(-0.02, -0.035, -0.01, target=0.0, tolerance=0.05).verdict == REPRODUCED
    with pytest.raises(ValueError, match="tolerance"):
        verdicts.within_tolerance(0.9, None, None, target=pub, tolerance=-1)


def test_all_of_and_judge():
    win, loss = verdicts.Verdict(REPRODUCED, "a"), verdicts.Verdict(NOT_REPRODUCED, "b")
    tie, gone = verdicts.Verdict(INCONCLUSIVE, "c"), verdicts.not_measured("d")
    assert verdicts.all_of([win, win]).verdict == REPRODUCED
    assert verdicts.all_of([win, loss, tie]).verdict == NOT_REPRODUCED
    assert verdicts.all_of([win, tie]).verdict == INCONCLUSIVE
    assert verdicts.all_of([win, gone]).verdict == INCONCLUSIVE
    assert verdicts.all_of([gone, gone]).verdict == NOT_MEASURED
    joined = verdicts.all_of([win, loss], names=["AUROC", "AUPRC"])
    assert joined.reason == "AUROC: reproduced — a; AUPRC: not reproduced — b"
    row = {"effect": 0.08, "ci_low": 0.05, "ci_high": 0.11, "n": 200}
    assert verdicts.judge("directional", **row).verdict == REPRODUCED
    with pytest.raises(ValueError, match="unknown verdict rule"):
        verdicts.judge("majority", **row)
