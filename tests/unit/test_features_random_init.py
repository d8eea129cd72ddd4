"""Backbones with seeded random weights or given as a module: identical weights for anoloc and a peer library."""

from __future__ import annotations

import pytest
import torch

from anoloc.features import EfficientNetLite0, FeatureExtractor, random_backbone
from anoloc.utils import AnolocError


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_random_backbone_is_torchvisions_init_under_the_seed():
    import torchvision

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    ours = random_backbone("resnet18", seed=7)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is untouched
    torch.manual_seed(7)
    ref = torchvision.models.resnet18(weights=None)
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in ours.state_dict().items())
    assert not ours.training
    other = random_backbone("resnet18", seed=8)
    assert not torch.equal(other.conv1.weight, ours.conv1.weight)


def test_random_extractor_features_equal_the_torchvision_model():
    fe = FeatureExtractor.random("resnet18", ["layer1", "layer3"], seed=3)
    assert fe.label == "resnet18:random-seed3"
    assert fe.weights_path is None
    net = random_backbone("resnet18", seed=3)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        l1 = net.layer1(h)
        l3 = net.layer3(net.layer2(l1))
    out = fe(x)
    assert set(out) == {"layer1", "layer3"}
    assert torch.allclose(out["layer1"], l1, atol=1e-5) and torch.allclose(out["layer3"], l3, rtol=1e-4, atol=1e-4)
    # the same seed twice gives bit-identical features
    assert torch.equal(FeatureExtractor.random("resnet18", ["layer3"], seed=3)(x)["layer3"], out["layer3"])


def test_given_module_is_used_as_is():
    net = EfficientNetLite0().eval()
    fe = FeatureExtractor("efficientnet_lite0", ["layer2"], model=net, weights_label="mine")
    assert fe.label == "efficientnet_lite0:mine"
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(fe(x)["layer2"], net.stages(x, ["layer2"])["layer2"])
    lite = FeatureExtractor.random("efficientnet_lite0", ["layer1"], seed=0)
    assert lite.label == "efficientnet_lite0:random-seed0"
    with pytest.raises(AnolocError, match="not a resnet18 backbone"):
        FeatureExtractor("resnet18", ["layer2"], model=net)
    with pytest.raises(AnolocError, match="unknown backbone"):
        random_backbone("vgg16", 0)
