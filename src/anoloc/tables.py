"""Result tables: summaries over seeds (tables are written by `anoloc.io.write_csv`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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
