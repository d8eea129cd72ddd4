"""table1 of the sample-wise experiment, from the saved score files (torch-free)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import pandas as pd

from anoloc.experiments.mnist.layout import RunParams, parse_score_file
from anoloc.io import write_csv
from anoloc.metrics import detection_metrics
from anoloc.scores.names import SAMPLE_SCORES
from anoloc.tables import summarise
from anoloc.utils import AnolocError, PathLike

TABLE1_KEYS = ["dataset", "variant", "held_out_class", "z", "log_c", "scaling", "seed"]


def table1(score_files: Iterable[tuple[str, str, int, RunParams, PathLike]]) -> pd.DataFrame:
    """One row per (dataset, variant, held-out class, z, log c, scaling, seed, score) with AUROC and AP.

    `score_files`: (variant, dataset, held-out class, run, path) of each score CSV.
    """
    rows = []
    for variant, dataset, held_out, run, path in score_files:
        df = pd.read_csv(path)
        n_anom = int(df["label"].sum())
        if n_anom == 0 or n_anom == len(df):
            raise AnolocError(
                f"{path}: {n_anom} of {len(df)} test images belong to the held-out class {held_out}, so AUROC is "
                f"undefined; check the {dataset} test set (its labels must contain class {held_out} and others)"
            )
        for s in SAMPLE_SCORES:
            m = detection_metrics(df["label"], df[s])
            rows.append(
                {
                    "dataset": dataset,
                    "variant": variant,
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
    """Mean ± std over seeds of AUROC and AP per (dataset, variant, class, z, log c, scaling, score)."""
    keys = [k for k in TABLE1_KEYS if k != "seed"]
    return summarise(t1, [*keys, "score"], ["auroc", "ap"])


def write_tables(score_paths: Iterable[PathLike], table_path: PathLike, summary_path: PathLike) -> pd.DataFrame:
    """table1 and its summary from the score files (their paths say variant, dataset, class, run and seed)."""
    t1 = table1((*parse_score_file(p), p) for p in score_paths)
    write_csv(t1, table_path)
    write_csv(table1_summary(t1), summary_path)
    return t1
