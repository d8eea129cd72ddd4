"""Fault injection: decompression-bomb, truncated and bit-flipped PNGs inside the MVTec and cells data folders."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anoloc.data import cells, mvtec
from anoloc.data.images import read_image
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, side: int) -> Path:
    """A valid, tiny PNG whose header declares side × side 8-bit grayscale pixels (one compressed zero row)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (side + 1))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [50_000, 10_000], ids=["error-range", "warning-range"])
def test_decompression_bomb_is_a_clear_error(tmp_path, side):
    path = png_bomb(tmp_path / "bomb.png", side)
    assert path.stat().st_size < 1000  # the bomb is small on disk; its header alone trips Pillow's guard
    with pytest.raises(AnolocError, match="decompression-bomb guard") as err:
        read_image(path, "L", hint="Replace it.")
    assert str(path) in str(err.value) and "Replace it." in str(err.value)


@pytest.fixture
def mvtec_root(tmp_path) -> Path:
    mvtec.write_synthetic(tmp_path / "mvtec", classes=["grass"], n_train=2, n_test_good=1, n_test_per_defect=1, tile=32)
    return tmp_path / "mvtec"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage", [_truncate, _flip, lambda p: png_bomb(p, 50_000)], ids=["truncated", "bitflip", "bomb"]
)
def test_corrupt_image_inside_an_mvtec_class_folder_is_named(mvtec_root, damage):
    train, test = mvtec.class_split(mvtec_root, "grass")
    bad = test[-1].path
    damage(bad)
    mvtec.read_image(train[0])  # the others still read
    with pytest.raises(AnolocError, match="cannot read the image") as err:
        mvtec.read_image(bad)
    assert str(bad) in str(err.value) and "resources/mvtec/data" in str(err.value)
    damage(test[-1].mask_path)
    with pytest.raises(AnolocError, match="cannot read the image") as err:
        mvtec.read_mask(test[-1].mask_path, (32, 32))
    assert str(test[-1].mask_path) in str(err.value)


def test_bomb_inside_the_cells_folder_is_named(tmp_path):
    root = cells.write_synthetic(tmp_path / "fl", {"healthy_train": 2, "healthy_test": 1, "infected": 1})
    bad = png_bomb(root / "infected" / "raw" / "00000.png", 50_000)
    with pytest.raises(AnolocError, match="decompression-bomb guard") as err:
        cells.load_folder(root)
    assert str(bad) in str(err.value) and "Replace it with the original file" in str(err.value)


def test_good_images_read_as_before(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    rgb = np.dstack([gray, gray[::-1], gray.T])
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert np.array_equal(mvtec.read_image(tmp_path / "g.png"), gray)
    assert np.array_equal(mvtec.read_image(tmp_path / "c.png"), rgb)
    arr, mode = read_image(tmp_path / "c.png", "L")
    assert mode == "RGB" and arr.shape == (8, 8)
