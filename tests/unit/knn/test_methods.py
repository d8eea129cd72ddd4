"""Shared kNN pieces (preprocessing, blur, chunked search, interface) and SPADE; a tiny fake backbone keeps it fast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from anoloc.features import IMAGENET_MEAN, IMAGENET_STD
from anoloc.knn import METHODS, SPADE, build_method, knn_search, preprocess, preprocess_masks
from anoloc.knn.base import denormalise, gaussian_blur, upsample
from tests.fake_extractor import FakeExtractor


def _stripes(n: int, seed: int) -> torch.Tensor:
    """Normal images: vertical stripes with random phase and a little noise, (n, 3, 64, 64)."""
    gen = torch.Generator().manual_seed(seed)
    cols = torch.arange(64).float()
    phase = torch.rand(n, 1, 1, 1, generator=gen) * 6.28
    img = torch.sin(cols / 3 + phase).expand(n, 3, 64, 64) + 0.1 * torch.randn(n, 3, 64, 64, generator=gen)
    return img.contiguous()


@pytest.fixture
def normal_images() -> torch.Tensor:
    return _stripes(12, 0)


@pytest.fixture
def defect_image() -> torch.Tensor:
    x = _stripes(1, 99)
    x[:, :, 24:36, 24:36] = 3.0
    return x


# ------------------------------------------------------------------------------------- preprocessing
def test_preprocess_matches_torchvision_pipeline():
    from torchvision.transforms import v2

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    ours = preprocess(img[None], resize=256, crop=224)
    tv = v2.Compose(
        [
            v2.ToDtype(torch.float32, scale=True),
            v2.Resize(256, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(224),
        ]
    )(torch.from_numpy(img).permute(2, 0, 1))
    ref = (tv.clamp(0, 1) - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert ours.shape == (1, 3, 224, 224)
    assert torch.allclose(ours[0], ref, atol=1e-4)


def test_preprocess_grayscale_masks_and_pre_resize_share_geometry():
    img = np.zeros((1, 100, 100), dtype=np.uint8)
    img[:, 40:60, 10:30] = 255
    x = preprocess(img, resize=64, crop=48)
    m = preprocess_masks(img > 0, resize=64, crop=48)
    assert x.shape == (1, 3, 48, 48) and m.shape == (1, 48, 48) and m.dtype == torch.bool
    rgb = denormalise(x)[0]
    assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).max() <= 1  # gray repeated to 3 channels
    bright = rgb[..., 0] > 127
    assert (bright == m[0].numpy()).mean() > 0.98
    assert preprocess(img, resize=64, crop=48, pre_resize=32).shape == (1, 3, 48, 48)
    with pytest.raises(ValueError, match="crop"):
        preprocess(img, resize=32, crop=48)


def test_gaussian_blur_equals_scipy_gaussian_filter():
    x = torch.rand(2, 40, 50, dtype=torch.float64)
    ours = gaussian_blur(x, 4.0).numpy()
    ref = np.stack([ndimage.gaussian_filter(a, 4.0) for a in x.numpy()])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert torch.equal(gaussian_blur(x, 0), x)


def test_upsample_is_bilinear():
    m = torch.rand(2, 7, 7)
    ref = F.interpolate(m[:, None], size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    assert torch.equal(upsample(m, (28, 28)), ref)


# ----------------------------------------------------------------------------------------- search
@pytest.mark.parametrize("chunk", [1, 7, 4096])
@pytest.mark.parametrize("k", [1, 5])
def test_chunked_knn_equals_brute_force(chunk, k):
    gen = torch.Generator().manual_seed(chunk + k)
    query, bank = torch.randn(23, 9, generator=gen), torch.randn(61, 9, generator=gen)
    d, i = knn_search(query, bank, k, chunk_size=chunk, backend="torch")
    ref_d, ref_i = torch.cdist(query.double(), bank.double()).topk(k, dim=1, largest=False)
    assert torch.equal(i, ref_i)
    assert torch.allclose(d.double(), ref_d, atol=1e-5)
    with pytest.raises(ValueError):
        knn_search(query, bank, 62)


def test_faiss_backend_equals_brute_force():
    pytest.importorskip("faiss")
    query, bank = torch.randn(10, 4), torch.randn(50, 4)
    d, i = knn_search(query, bank, 3, backend="faiss")
    ref_d, ref_i = torch.cdist(query, bank).topk(3, dim=1, largest=False)
    assert torch.equal(i, ref_i) and torch.allclose(d, ref_d, atol=1e-4)


# ------------------------------------------------------------------------------------------ SPADE
def test_spade_scores_and_maps_follow_the_definition(normal_images, defect_image):
    fe = FakeExtractor()
    k = 3
    model = SPADE(fe, k=k, blur_sigma=2.0).fit(normal_images.split(5))
    test = torch.cat([normal_images[:1] + 0.3, defect_image])
    scores, maps = model.predict(test)

    train_f, test_f = fe(normal_images), fe(test)
    z_train = train_f["layer4"].mean((2, 3))
    z_test = test_f["layer4"].mean((2, 3))
    dist = torch.cdist(z_test, z_train)
    knn_d, knn_i = dist.topk(k, dim=1, largest=False)
    assert torch.allclose(scores, knn_d.mean(1), atol=1e-5)
    for b in range(2):
        total = torch.zeros(64, 64)
        for s in ("layer1", "layer2", "layer3"):
            per_pos = (train_f[s][knn_i[b]] - test_f[s][b]).norm(dim=1).amin(0)  # same position, min over k
            total += F.interpolate(per_pos[None, None], size=(64, 64), mode="bilinear", align_corners=False)[0, 0]
        ref = ndimage.gaussian_filter(total.numpy().astype(np.float64), 2.0)
        np.testing.assert_allclose(maps[b].numpy(), ref, rtol=1e-4, atol=1e-4)


def test_interface_requires_fit_and_needed_stages(normal_images):
    fe = FakeExtractor()
    for name in METHODS:
        model = build_method(name, fe, {})
        with pytest.raises(RuntimeError, match="fit"):
            model.predict(normal_images[:1])
        assert model.describe()["method"] == name and model.describe()["backbone"] == "fake:random"
    fe.stages = ("layer2", "layer3")
    with pytest.raises(ValueError, match="needs backbone stages"):
        build_method("spade", fe)
    with pytest.raises(ValueError, match="unknown method"):
        build_method("knn", fe)


def test_all_methods_detect_and_localise_a_defect(normal_images, defect_image):
    fe = FakeExtractor()
    params = {"spade": {"k": 5}, "padim": {"d": 16}, "patchcore": {"coreset_fraction": 0.5, "reweight_b": 3}}
    for name, p in params.items():
        model = build_method(name, fe, p).fit(normal_images.split(4))
        scores, maps = model.predict(torch.cat([_stripes(3, 7), defect_image]))
        assert scores.shape == (4,) and maps.shape == (4, 64, 64)
        assert scores[3] > scores[:3].max(), name
        peak = np.unravel_index(int(maps[3].argmax()), (64, 64))
        assert 16 <= peak[0] < 44 and 16 <= peak[1] < 44, name
