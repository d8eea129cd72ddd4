"""The one place that writes result files: CSV, JSON and NPZ, each atomically.

A file is written to a temporary name beside its destination and moved into place only when complete
(`anoloc.utils.atomic_path`), so an interrupted job never leaves a half-written output that a rerun would trust.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anoloc.utils import AnolocError, PathLike, atomic_path

if TYPE_CHECKING:
    import pandas as pd


def write_csv(df: pd.DataFrame, path: PathLike, float_format: str = "%.6g") -> None:
    """Write a table (no index column)."""
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False, float_format=float_format)


def save_json(obj: Any, path: PathLike) -> None:
    """Write JSON with sorted keys and a 2-space indent."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_npz(path: PathLike, arrays: Mapping[str, Any], compress: bool = True) -> None:
    """Write arrays as .npz (`compress=False` for large maps that are read back soon: faster, larger)."""
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        tmp.write_bytes(buf.getvalue())


def load_npz(path: PathLike, what: str = "array file") -> dict[str, np.ndarray]:
    """All arrays of an .npz (no pickles); a missing or corrupt file is an AnolocError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise AnolocError(f"{path} is not a readable {what} ({exc}); delete it and rerun") from exc
