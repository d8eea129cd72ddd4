"""Writing large files safely: a full disk becomes an `AnolocError` naming the file, never a raw traceback.

A full disk shows up in two forms: `OSError` with errno ENOSPC (or EDQUOT, over quota) from Python and NumPy
writes, and a `RuntimeError` from torch's C++ zip writer (`[enforce fail at inline_container.cc:…] . unexpected
pos …` or `PytorchStreamWriter failed writing file …`), which carries no errno. Both are translated by
`disk_full_guard`; the write itself goes through `anoloc.utils.atomic_path`, so the previous file (if any) is
left unchanged and no partial file remains.

torch is imported lazily: archive extraction uses the guard without it.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from anoloc.utils import AnolocError, PathLike, atomic_path

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


def save_torch(obj: Any, path: PathLike) -> None:
    """`torch.save(obj)` to `path` atomically; a full disk is an `AnolocError` and leaves `path` as it was."""
    import torch

    with disk_full_guard(path), atomic_path(path) as tmp:
        torch.save(obj, tmp)
