"""The one place that writes result files: CSV, JSON, NPZ and torch files, each atomically and disk-full safe.

A file is written to a temporary name beside its destination and moved into place only when complete
(`anoloc.utils.atomic_path`), so an interrupted job never leaves a half-written output that a rerun would trust.
A full disk shows up in two forms: `OSError` with errno ENOSPC (or EDQUOT, EFBIG) from Python and NumPy writes, and
a `RuntimeError` from torch's C++ zip writer (`[enforce fail at inline_container.cc:…]` or `PytorchStreamWriter
failed writing file …`), which carries no errno; `disk_full_guard` turns both into an `AnolocError` naming the file
(the previous version of the file, if any, is left unchanged). torch is imported lazily.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import shutil
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anoloc.utils import AnolocError, PathLike, atomic_path

if TYPE_CHECKING:
    import pandas as pd

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# torch's zip writer (caffe2/serialize/inline_container.cc) reports a short write without an errno
TORCH_WRITE_FAILURES = ("inline_container.cc", "PytorchStreamWriter failed writing")


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError meaning "no space / over quota / file too large", or torch's failed-write error."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    return isinstance(exc, RuntimeError) and any(s in str(exc) for s in TORCH_WRITE_FAILURES)


def free_space(path: PathLike) -> str:
    """Free space of the file system holding `path` (its nearest existing parent), e.g. '1.2 GB'."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        free = shutil.disk_usage(p).free
    except OSError:
        return "unknown space"
    return f"{free / 1e9:.3g} GB" if free >= 1e8 else f"{free / 1e6:.3g} MB"


def disk_full_message(path: PathLike, exc: BaseException, what: str = "write") -> str:
    return (
        f"could not {what} {path}: the disk is full (or over quota) — {exc}. {free_space(path)} free on that "
        "file system. Free some space (or move the results/resources folders to a larger disk) and rerun; "
        "the previous version of the file, if any, is unchanged and nothing half-written was kept."
    )


@contextlib.contextmanager
def disk_full_guard(path: PathLike, what: str = "write") -> Iterator[None]:
    """Turn a full-disk error raised in the block into an `AnolocError` naming `path`; others pass through."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        if is_disk_full(exc):
            raise AnolocError(disk_full_message(path, exc, what)) from exc
        raise


def write_csv(df: pd.DataFrame, path: PathLike, float_format: str = "%.6g") -> None:
    """Write a table (no index column)."""
    with disk_full_guard(path), atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False, float_format=float_format)


def save_json(obj: Any, path: PathLike) -> None:
    """Write JSON with sorted keys and a 2-space indent."""
    with disk_full_guard(path), atomic_path(path) as tmp:
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
    with disk_full_guard(path), atomic_path(path, suffix=".npz") as tmp:
        tmp.write_bytes(buf.getvalue())


def save_torch(obj: Any, path: PathLike) -> None:
    """`torch.save(obj)` to `path` atomically; a full disk is an `AnolocError` and leaves `path` as it was."""
    import torch

    with disk_full_guard(path), atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_npz(path: PathLike, what: str = "array file") -> dict[str, np.ndarray]:
    """All arrays of an .npz (no pickles); a missing or corrupt file is an AnolocError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise AnolocError(f"{path} is not a readable {what} ({exc}); delete it and rerun") from exc
