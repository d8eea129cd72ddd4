"""Result tables: collect per-run metrics, summarise over seeds, write CSV atomically."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from anoloc.utils import PathLike, atomic_path


def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], n_name: str = "n_seeds") -> pd.DataFrame:
    """Mean and sample standard deviation (ddof=1; NaN for a single run) of `metrics` per group.

    Columns: `by…`, then `<metric>_mean`, `<metric>_std` for each metric, then `n_name`.
    """
    grouped = df.groupby(list(by), sort=True, dropna=False)
    out = grouped[list(metrics)].agg(["mean", "std"])
    out.columns = [f"{m}_{stat}" for m, stat in out.columns]
    out[n_name] = grouped.size()
    return out.reset_index()


def mean_pm_std(mean: float, std: float, digits: int = 3) -> str:
    """'0.912 ± 0.004' (or just the mean when std is NaN)."""
    if std is None or np.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_csv(df: pd.DataFrame, path: PathLike, float_format: str = "%.6g") -> None:
    """Write a table atomically (no index column)."""
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False, float_format=float_format)
