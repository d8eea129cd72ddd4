"""Tables of the sample-wise experiment (torch-free, used by the table and figure rules)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from anoloc.metrics import detection_metrics
from anoloc.runs import RunParams, parse_run_id
from anoloc.tables import summarise, write_csv
from anoloc.utils import AnolocError, PathLike

SAMPLE_SCORES = ("kl", "rec", "elbo")

TABLE1_KEYS = ["dataset", "held_out_class", "z", "log_c", "scaling", "seed"]


def table1(score_files: Iterable[tuple[str, int, RunParams, PathLike]]) -> pd.DataFrame:
    """One row per (dataset, held-out class, z, log c, scaling, seed, score) with AUROC and AP."""
    rows = []
    for dataset, held_out, run, path in score_files:
        df = pd.read_csv(path)
        n_anom = int(df["label"].sum())
        for s in SAMPLE_SCORES:
            m = detection_metrics(df["label"], df[s])
            rows.append(
                {
                    "dataset": dataset,
                    "held_out_class": held_out,
                    **asdict(run),
                    "score": s,
                    **m,
                    "n_normal": len(df) - n_anom,
                    "n_anomalous": n_anom,
                }
            )
    if not rows:
        raise AnolocError("table1: no score files given")
    cols = [*TABLE1_KEYS, "score", "auroc", "ap", "n_normal", "n_anomalous"]
    return pd.DataFrame(rows)[cols].sort_values([*TABLE1_KEYS, "score"]).reset_index(drop=True)


def table1_summary(t1: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds of AUROC and AP per (dataset, class, z, log c, scaling, score)."""
    return summarise(t1, ["dataset", "held_out_class", "z", "log_c", "scaling", "score"], ["auroc", "ap"])


def write_tables(t1: pd.DataFrame, table_path: PathLike, summary_path: PathLike) -> None:
    write_csv(t1, table_path)
    write_csv(table1_summary(t1), summary_path)


def score_files_from_paths(paths: Iterable[PathLike]) -> list[tuple[str, int, RunParams, Path]]:
    """Recover (dataset, class, run) from score paths `.../<dataset>/class<k>/<run id>.csv`."""
    out = []
    for p in map(Path, paths):
        m = re.fullmatch(r"class(\d)", p.parent.name)
        if m is None:
            raise AnolocError(f"unexpected score path {p} (expected .../<dataset>/class<k>/<run>.csv)")
        out.append((p.parent.parent.name, int(m[1]), parse_run_id(p.stem), p))
    return out
