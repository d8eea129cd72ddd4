"""The adapter layer of the matrix: shapes, value ranges, mask alignment after resizing, descriptions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc import adapters
from anoloc.adapters import Adapter
from anoloc.knn import preprocess, preprocess_masks


def _square_image(size: int, top: int, left: int, side: int, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A dark unit image with a bright square, and the square's mask."""
    img = np.full((1, channels, size, size), 0.1, np.float32)
    img[:, :, top : top + side, left : left + side] = 0.9
    mask = np.zeros((1, size, size), bool)
    mask[:, top : top + side, left : left + side] = True
    return img, mask


def test_to_unit_shapes_and_range():
    u8 = np.array([[[0, 128], [255, 64]]], np.uint8)
    x = adapters.to_unit(u8)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], u8[0] / 255.0, rtol=1e-6)
    rgb = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    assert adapters.to_unit(rgb).shape == (2, 3, 5, 6)
    # the brain's z-scored intensities, clipped at ±1.5 → [0, 1] (values outside are clipped)
    z = np.array([[[-1.5, 0.0, 1.5, 3.0]]], np.float32)
    np.testing.assert_allclose(adapters.to_unit(z, (-1.5, 1.5))[0, 0, 0], [0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        adapters.to_unit(np.zeros((2, 3)))


def test_channels_gray_to_rgb_and_back():
    x = torch.rand(2, 1, 4, 4)
    rgb = adapters.to_channels(x, 3)
    assert rgb.shape == (2, 3, 4, 4)
    assert torch.equal(rgb[:, 0], x[:, 0]) and torch.equal(rgb[:, 2], x[:, 0])
    # luma of a repeated gray image is the gray image (weights sum to 1)
    torch.testing.assert_close(adapters.to_channels(rgb, 1), x)
    colour = torch.rand(1, 3, 3, 3, dtype=torch.float64)
    expected = 0.299 * colour[:, 0] + 0.587 * colour[:, 1] + 0.114 * colour[:, 2]
    torch.testing.assert_close(adapters.to_channels(colour, 1)[:, 0], expected)


@pytest.mark.parametrize(("size_in", "size_out"), [(28, 32), (28, 224), (64, 64), (224, 64), (128, 64)])
def test_resize_keeps_range_and_masks_aligned(size_in, size_out):
    top, left, side = size_in // 4, size_in // 2, size_in // 4
    img, mask = _square_image(size_in, top, left, side)
    x = adapters.resize_images(img, size_out)
    m = adapters.resize_masks(mask, size_out)
    assert x.shape == (1, 1, size_out, size_out) and m.shape == (1, size_out, size_out) and m.dtype == torch.bool
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # the resized mask covers the square's area (scaled) and sits where the resized image is bright
    scale = size_out / size_in
    assert abs(int(m.sum()) - (side * scale) ** 2) <= 4 * side * scale + 4
    inside, outside = x[0, 0][m[0]], x[0, 0][~m[0]]
    assert float(inside.mean()) > 0.8 and float(outside.mean()) < 0.2
    # centre of mass of the mask = centre of mass of the bright image part (within one output pixel)
    ys, xs = np.nonzero(m[0].numpy())
    w = (x[0, 0].numpy() - 0.1).clip(min=0)
    cy = (w * np.arange(size_out)[:, None]).sum() / w.sum()
    cx = (w * np.arange(size_out)[None, :]).sum() / w.sum()
    assert abs(ys.mean() - cy) < 1.0 and abs(xs.mean() - cx) < 1.0


def test_resize_masks_identity_and_maps_back():
    mask = np.random.default_rng(1).random((3, 16, 16)) > 0.5
    assert torch.equal(adapters.resize_masks(mask, 16), torch.from_numpy(mask))
    up = adapters.resize_masks(mask, 32)  # nearest neighbour doubling: every pixel becomes a 2×2 block
    assert torch.equal(up, torch.from_numpy(mask.repeat(2, 1).repeat(2, 2)))
    maps = torch.rand(3, 8, 8)
    back = adapters.maps_to(adapters.maps_to(maps, (16, 16)), (8, 8))
    assert back.shape == (3, 8, 8)
    torch.testing.assert_close(adapters.maps_to(torch.ones(2, 7, 7) * 3.0, (32, 32)), torch.full((2, 32, 32), 3.0))


def test_short_crop_matches_table5_geometry():
    """The MVTec evaluation geometry is exactly anoloc.knn.preprocess / preprocess_masks (table5's)."""
    rng = np.random.default_rng(2)
    u8 = rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    masks = rng.random((2, 40, 50)) > 0.7
    x = adapters.resize_short_crop(adapters.to_unit(u8), resize=32, crop=28)
    ref = preprocess(u8, resize=32, crop=28)
    mean, std = (
        torch.tensor(adapters.IMAGENET_MEAN).view(1, 3, 1, 1),
        torch.tensor(adapters.IMAGENET_STD).view(1, 3, 1, 1),
    )
    torch.testing.assert_close(x, (ref * std + mean).clamp(0, 1), atol=1e-5, rtol=0)
    assert x.shape == (2, 3, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    m = adapters.resize_short_crop_masks(masks, resize=32, crop=28)
    assert torch.equal(m, preprocess_masks(masks, resize=32, crop=28))
    # a square defect stays aligned with its image through resize + crop
    img, mask = _square_image(64, 20, 30, 10, channels=3)
    xi = adapters.resize_short_crop(img, resize=48, crop=40)
    mi = adapters.resize_short_crop_masks(mask, resize=48, crop=40)
    assert float(xi[0, 0][mi[0]].mean()) > 0.8 and float(xi[0, 0][~mi[0]].mean()) < 0.2
    gray = adapters.resize_short_crop(img[:, :1], resize=48, crop=40)
    assert gray.shape == (1, 1, 40, 40)


def test_normalisations():
    x = torch.rand(4, 3, 5, 5)
    net = adapters.normalise(x, "imagenet")
    mean, std = (
        torch.tensor(adapters.IMAGENET_MEAN).view(1, 3, 1, 1),
        torch.tensor(adapters.IMAGENET_STD).view(1, 3, 1, 1),
    )
    torch.testing.assert_close(net * std + mean, x)
    stats = adapters.zscore_stats(x)
    z = adapters.normalise(x, "zscore", stats)
    a = x.double().numpy()
    np.testing.assert_allclose(stats[0], a.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(z.double().mean((0, 2, 3)).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.double().std((0, 2, 3), unbiased=False).numpy(), 1.0, atol=1e-5)
    clipped = adapters.normalise(x * 10, "zscore", stats, clip=1.5)
    assert float(clipped.abs().max()) <= 1.5
    assert torch.equal(adapters.normalise(x, "unit"), x)
    with pytest.raises(ValueError):
        adapters.normalise(x[:, :1], "imagenet")
    with pytest.raises(ValueError):
        adapters.normalise(x, "zscore")


def test_adapt_pipeline_and_description():
    gray28 = adapters.to_unit(np.random.default_rng(3).integers(0, 256, (5, 28, 28), dtype=np.uint8))
    knn = Adapter(channels=3, size=32, norm="imagenet")
    y = adapters.adapt(knn, gray28)
    assert y.shape == (5, 3, 32, 32)
    assert knn.describe(1, 28) == "gray→rgb, 28→32 bicubic, ImageNet norm"
    vae = Adapter(channels=1, size=16, norm="zscore", clip=1.5)
    stats = adapters.fit_stats(vae, gray28)
    v = adapters.adapt(vae, gray28, stats)
    assert v.shape == (5, 1, 16, 16) and float(v.abs().max()) <= 1.5
    assert vae.describe(3, 224) == "rgb→gray, 224→16 bicubic, z-score (normal train pixels), clip ±1.5"
    assert Adapter(channels=1).describe(1, 64) == "gray, 64 (native), [0, 1]"
    assert adapters.fit_stats(knn, gray28) is None
    with pytest.raises(ValueError):
        Adapter(channels=2)
    with pytest.raises(ValueError):
        Adapter(channels=1, norm="minmax")
