"""Small shared helpers: seeding, devices, the atomic-write primitive, hashing, logging.

torch is imported lazily so that table and figure code runs without it."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]


class AnolocError(RuntimeError):
    """An error caused by user input (data, config, files); the message says what to do."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) random number generators."""
    import torch

    seed = int(seed) % (2**32)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def derive_seed(*parts: int | str) -> int:
    """A stable 31-bit seed derived from several values (e.g. base seed and epoch)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def resolve_device(device: str = "auto") -> torch.device:
    """`auto` → CUDA when available, else CPU; any other value is passed to `torch.device`."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def set_threads(n: int | None) -> None:
    """Limit torch's intra-op threads (Snakemake's `threads`)."""
    import torch

    if n:
        torch.set_num_threads(max(1, int(n)))


def sha256sum(path: PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; move it into place only if the block succeeds.

    Nothing half-written is ever left at `path`: on error the temporary file is removed. A temporary file left by
    a process that was killed outright (SIGKILL, power loss: no cleanup runs) is removed by the next write of the
    same path (one job writes a given output at a time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{glob.escape(suffix or path.suffix)}"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the final file the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def setup_logging(log_file: PathLike | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to `log_file` (if given) and stderr with one format; returns the `anoloc` logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
    return logging.getLogger("anoloc")
