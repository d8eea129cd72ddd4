"""Verdict rules of the claims ledger, written once: (effect, interval, n, claim) → verdict + reason.

Every rule returns a `Verdict(verdict, reason)`, the verdict one of `VERDICTS`:

- `not measured`: the effect is missing (NaN/None): the data, run or config it needs does not exist.
- `inconclusive` when n < the rule's minimum (too few samples or cells to judge), or when the evidence is
  neither for nor against the claim (the interval straddles the boundary and the estimate is not clearly off).
- `directional` ("A beats B"; effect = A − B, claimed side `greater`, or `less`):
  `reproduced` when the whole interval lies on the claimed side of 0; `not reproduced` when it lies wholly on
  the other side, or when the estimate is on the wrong side by more than the practical `margin` even though
  the interval still touches 0; otherwise `inconclusive` (a tie).
- `most_cases` ("A beats B in most cases"; effect = fraction of cells won): `reproduced` when the interval's
  lower bound exceeds `majority` (½); `not reproduced` when the upper bound is below it or the fraction itself
  is below it; otherwise `inconclusive`.
- `within_tolerance` ("X is within ±tol of the published value", or "close to" a reference: target 0 on a
  difference): `reproduced` when the whole interval lies inside [target − tol, target + tol]; `not reproduced`
  when it lies wholly outside; otherwise `inconclusive`. Without an interval the point estimate decides
  (reported as such in the reason), unless `require_interval`.
- `all_of` joins the verdicts of the parts of one claim (e.g. AUROC and AUPRC, several baselines).

Thresholds (module constants, keyword defaults): `PRACTICAL_MARGIN` = 0.01 in the metric's units (AUROC, AP,
Dice); `MIN_SAMPLES` = 10 test samples or groups; `MIN_CELLS` = 5 cells; `MAJORITY` = 0.5. Intervals are
taken as given (95 % unless the caller says otherwise); the p-value, when given, is only reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURED)

PRACTICAL_MARGIN = 0.01  # a directional effect this far on the wrong side refutes the claim (metric units)
MIN_SAMPLES = 10  # fewer test samples / groups → inconclusive
MIN_CELLS = 5  # fewer cells → a "most cases" claim is inconclusive
MAJORITY = 0.5  # "most cases" means more than this fraction


class Verdict(NamedTuple):
    """One verdict (one of `VERDICTS`) and the sentence that explains it."""

    verdict: str
    reason: str


def _missing(x: object) -> bool:
    """None, NaN, or anything that is not a number (e.g. pandas.NA)."""
    try:
        return x is None or math.isnan(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def _fmt(x: float | None, signed: bool = True) -> str:
    return "n/a" if _missing(x) else (f"{x:+.3f}" if signed else f"{x:.3f}")


def _evidence(effect: float, lo: float | None, hi: float | None, n: int | None, p: float | None, signed=True) -> str:
    parts = [f"{_fmt(effect, signed)}"]
    if not (_missing(lo) or _missing(hi)):
        parts.append(f"CI [{_fmt(lo, signed)}, {_fmt(hi, signed)}]")
    if not _missing(p):
        parts.append(f"p={p:.2g}")
    if n is not None:
        parts.append(f"n={n}")
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def not_measured(reason: str) -> Verdict:
    """`not measured`, with what is missing (which data, run or config)."""
    return Verdict(NOT_MEASURED, reason)


def _precheck(effect: float | None, n: int | None, min_n: int, missing_reason: str | None) -> Verdict | None:
    if _missing(effect):
        return not_measured(missing_reason or "no estimate: the runs or scores this claim needs are missing")
    if n is not None and n < min_n:
        return Verdict(INCONCLUSIVE, f"too few to judge: n={n} < {min_n}")
    return None


def directional(
    effect: float | None,
    ci_low: float | None,
    ci_high: float | None,
    *,
    n: int | None,
    direction: Literal["greater", "less"] = "greater",
    margin: float = PRACTICAL_MARGIN,
    min_n: int = MIN_SAMPLES,
    p_value: float | None = None,
    missing_reason: str | None = None,
) -> Verdict:
    """A claim that the effect (A − B) is > 0 (`greater`) or < 0 (`less`); see the module docstring."""
    pre = _precheck(effect, n, min_n, missing_reason)
    if pre is not None:
        return pre
    if direction not in ("greater", "less"):
        raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}")
    sign = 1.0 if direction == "greater" else -1.0
    claimed, other = ("above", "below") if sign > 0 else ("below", "above")
    ev = "effect " + _evidence(effect, ci_low, ci_high, n, p_value)  # type: ignore[arg-type]
    has_ci = not (_missing(ci_low) or _missing(ci_high))
    if has_ci:
        lo, hi = sorted((sign * ci_low, sign * ci_high))  # type: ignore[operator]
        if lo > 0:
            return Verdict(REPRODUCED, f"{ev}: interval entirely {claimed} 0")
        if hi < 0:
            return Verdict(NOT_REPRODUCED, f"{ev}: interval entirely {other} 0")
    if sign * effect < -margin:  # type: ignore[operator]
        where = "interval includes 0" if has_ci else "no interval"
        return Verdict(NOT_REPRODUCED, f"{ev}: estimate {other} 0 by more than the margin {margin:g} ({where})")
    if not has_ci:
        return Verdict(INCONCLUSIVE, f"{ev}: no interval to judge the direction")
    return Verdict(INCONCLUSIVE, f"{ev}: interval includes 0 (a tie at this sample size)")


def most_cases(
    fraction: float | None,
    ci_low: float | None,
    ci_high: float | None,
    *,
    n: int | None,
    majority: float = MAJORITY,
    min_n: int = MIN_CELLS,
    n_won: int | None = None,
    missing_reason: str | None = None,
) -> Verdict:
    """A claim that A beats B in most cells: the fraction won (with its binomial interval) exceeds `majority`."""
    pre = _precheck(fraction, n, min_n, missing_reason)
    if pre is not None:
        return pre
    won = f"won {n_won}/{n} cells, " if n_won is not None and n is not None else ""
    ev = won + "fraction " + _evidence(fraction, ci_low, ci_high, None if won else n, None, signed=False)  # type: ignore[arg-type]
    has_ci = not (_missing(ci_low) or _missing(ci_high))
    if has_ci and ci_low > majority:  # type: ignore[operator]
        return Verdict(REPRODUCED, f"{ev}: lower bound above {majority:g}")
    if has_ci and ci_high < majority:  # type: ignore[operator]
        return Verdict(NOT_REPRODUCED, f"{ev}: upper bound below {majority:g}")
    if fraction < majority:  # type: ignore[operator]
        return Verdict(NOT_REPRODUCED, f"{ev}: fewer than {majority:g} of the cells won")
    return Verdict(INCONCLUSIVE, f"{ev}: interval includes {majority:g}")


def within_tolerance(
    value: float | None,
    ci_low: float | None,
    ci_high: float | None,
    *,
    target: float,
    tolerance: float,
    n: int | None = None,
    min_n: int = 1,
    require_interval: bool = False,
    missing_reason: str | None = None,
) -> Verdict:
    """A claim that the value lies within ±`tolerance` of `target` (a published number, or 0 for a difference)."""
    pre = _precheck(value, n, min_n, missing_reason)
    if pre is not None:
        return pre
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    low, high = target - tolerance, target + tolerance
    band = f"[{low:.3f}, {high:.3f}] (target {target:.3f} ± {tolerance:g})"
    ev = "value " + _evidence(value, ci_low, ci_high, n, None, signed=False)  # type: ignore[arg-type]
    if _missing(ci_low) or _missing(ci_high):
        if require_interval:
            return Verdict(INCONCLUSIVE, f"{ev}: no interval to compare with {band}")
        inside = low <= value <= high  # type: ignore[operator]
        return Verdict(
            REPRODUCED if inside else NOT_REPRODUCED,
            f"{ev}: point estimate (no interval) {'inside' if inside else 'outside'} {band}",
        )
    lo, hi = sorted((ci_low, ci_high))  # type: ignore[type-var]
    if low <= lo and hi <= high:
        return Verdict(REPRODUCED, f"{ev}: interval inside {band}")
    if hi < low or lo > high:
        return Verdict(NOT_REPRODUCED, f"{ev}: interval outside {band}")
    return Verdict(INCONCLUSIVE, f"{ev}: interval overlaps the edge of {band}")


def all_of(parts: Sequence[Verdict], names: Sequence[str] | None = None) -> Verdict:
    """Join the verdicts of a claim's parts: any `not reproduced` → not reproduced; all `reproduced` →
    reproduced; all `not measured` → not measured; otherwise inconclusive. The reason lists the parts."""
    if not parts:
        return not_measured("no evidence for any part of the claim")
    labels = list(names) if names is not None else [str(i + 1) for i in range(len(parts))]
    if len(labels) != len(parts):
        raise ValueError(f"{len(parts)} verdicts but {len(labels)} names")
    kinds = [p.verdict for p in parts]
    if NOT_REPRODUCED in kinds:
        verdict = NOT_REPRODUCED
    elif all(k == REPRODUCED for k in kinds):
        verdict = REPRODUCED
    elif all(k == NOT_MEASURED for k in kinds):
        verdict = NOT_MEASURED
    else:
        verdict = INCONCLUSIVE
    return Verdict(
        verdict, "; ".join(f"{name}: {p.verdict} — {p.reason}" for name, p in zip(labels, parts, strict=True))
    )


RULES: dict[str, Callable[..., Verdict]] = {
    "directional": directional,
    "most_cases": most_cases,
    "within_tolerance": within_tolerance,
}


def judge(rule: str, **kwargs: object) -> Verdict:
    """Apply the rule named `rule` (a key of `RULES`) to keyword arguments, e.g. one ledger row's fields."""
    try:
        fn = RULES[rule]
    except KeyError:
        raise ValueError(f"unknown verdict rule {rule!r}; expected one of {sorted(RULES)}") from None
    return fn(**kwargs)
