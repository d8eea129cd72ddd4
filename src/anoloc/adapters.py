"""The one adapter layer of the method × dataset matrix: what a dataset offers → what a method needs.

A dataset reader hands over images as float32 arrays (N, C, H, W) with intensities in [0, 1] ("unit"
intensities; `to_unit` maps the dataset's own range there) at the dataset's *evaluation geometry* — the pixel grid
on which its masks live and its pixel metrics are computed — and masks as bool (N, H, W) on that grid. An
`Adapter` then converts the images to what one method needs, in three steps, always in this order:

1. channels: grayscale → 3 channels by repetition (the ImageNet backbones), 3 channels → grayscale by the ITU-R
   BT.601 luma weights 0.299 R + 0.587 G + 0.114 B;
2. resolution: a square side `size` (bicubic with antialiasing, clamped to [0, 1]; `None` = unchanged); a method's
   maps come back to the evaluation geometry with `maps_to` (bilinear, antialiased when shrinking), so masks are
   never resampled twice;
3. intensities: `unit` ([0, 1] as given), `imagenet` ((x − mean) / std per channel, torchvision's ImageNet
   statistics) or `zscore` ((x − μ) / σ with μ, σ the mean and standard deviation over every pixel of the normal
   training images, per channel, then clipped to ±`clip` when given — the brain preprocessing's convention).

Geometry changes of images go with their masks: `resize_masks` (nearest neighbour) resizes a mask on the grid of
`resize_images`, and `resize_short_crop` / `resize_short_crop_masks` apply torchvision's `Resize(int)` +
`CenterCrop` geometry (the MVTec evaluation geometry of table5) to both. `Adapter.describe` writes what ran,
e.g. "gray→rgb, 28→32 bicubic, ImageNet norm", into every row of the matrix table.

torch is imported lazily: the descriptions are used by the torch-free table code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NORMS = ("unit", "imagenet", "zscore")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # = anoloc.features (kept here so that this module stays torch-free)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma
CHANNEL_NAMES = {1: "gray", 3: "rgb"}


# ------------------------------------------------------------------------------------- descriptions
def geometry_text(size_in: int, size_out: int | None, mode: str = "bicubic") -> str:
    """'28→32 bicubic', or '64 (native)' when the size does not change."""
    if size_out is None or size_out == size_in:
        return f"{size_in} (native)"
    return f"{size_in}→{size_out} {mode}"


@dataclass(frozen=True)
class Adapter:
    """What one method gets: `channels` (1 or 3), a square `size` (None = the dataset's), an intensity `norm`
    (`NORMS`) and, for `zscore`, an optional `clip`."""

    channels: int
    size: int | None = None
    norm: str = "unit"
    clip: float | None = None
    mode: str = "bicubic"

    def __post_init__(self) -> None:
        if self.channels not in CHANNEL_NAMES:
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown intensity normalisation {self.norm!r}; one of {NORMS}")

    def describe(self, channels_in: int, size_in: int) -> str:
        """What the adapter does to images of `channels_in` channels and side `size_in`."""
        cin, cout = CHANNEL_NAMES[channels_in], CHANNEL_NAMES[self.channels]
        parts = [cin if cin == cout else f"{cin}→{cout}", geometry_text(size_in, self.size, self.mode)]
        if self.norm == "imagenet":
            parts.append("ImageNet norm")
        elif self.norm == "zscore":
            parts.append("z-score (normal train pixels)" + (f", clip ±{self.clip:g}" if self.clip else ""))
        else:
            parts.append("[0, 1]")
        return ", ".join(parts)


# ---------------------------------------------------------------------------------------- conversions
def to_unit(images: np.ndarray, value_range: tuple[float, float] = (0.0, 255.0)) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) images with values in `value_range` → float32 (N, C, H, W) in [0, 1] (clipped)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = np.moveaxis(x, -1, 1)
    else:
        raise ValueError(f"expected images (N, H, W) or (N, H, W, C), got {x.shape}")
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value range {value_range} is empty")
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32, copy=False)


def _tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    import torch

    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def to_channels(x: np.ndarray | torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) → (N, `channels`, H, W): gray repeated to 3 channels, 3 channels to BT.601 luma."""
    import torch

    x = _tensor(x)
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        w = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    raise ValueError(f"cannot convert {c} channels to {channels}")


def resize_images(x: np.ndarray | torch.Tensor, size: int | None, mode: str = "bicubic") -> torch.Tensor:
    """Unit images (N, C, H, W) → (N, C, size, size), antialiased, clamped to [0, 1]; `None` = unchanged."""
    import torch.nn.functional as F

    x = _tensor(x)
    if size is None or tuple(x.shape[-2:]) == (size, size):
        return x
    y = F.interpolate(x, size=(size, size), mode=mode, align_corners=False, antialias=mode in ("bilinear", "bicubic"))
    return y.clamp_(0.0, 1.0)


def resize_masks(masks: np.ndarray | torch.Tensor, size: int | None) -> torch.Tensor:
    """Bool masks (N, H, W) onto the grid of `resize_images(…, size)` (nearest neighbour, pixel centres)."""
    import torch
    import torch.nn.functional as F

    m = _tensor(np.asarray(masks, dtype=bool)) if not isinstance(masks, torch.Tensor) else masks.bool()
    if size is None or tuple(m.shape[-2:]) == (size, size):
        return m
    return F.interpolate(m[:, None].float(), size=(size, size), mode="nearest-exact")[:, 0] > 0.5


def maps_to(maps: np.ndarray | torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Anomaly maps (N, h, w) → (N, *size) (bilinear, antialiased when shrinking); unchanged when equal."""
    import torch.nn.functional as F

    m = _tensor(maps).float()
    size = tuple(int(s) for s in size)
    if tuple(m.shape[-2:]) == size:
        return m
    shrink = size[0] < m.shape[-2] or size[1] < m.shape[-1]
    return F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False, antialias=shrink)[:, 0]


def resize_short_crop(
    x: np.ndarray | torch.Tensor, resize: int, crop: int, pre_resize: int | None = None
) -> torch.Tensor:
    """Unit images through table5's geometry: [pre_resize² bicubic] → shorter side `resize` (bicubic) → centre
    crop `crop` (= `anoloc.knn.preprocess` before its ImageNet normalisation)."""
    from anoloc.knn import preprocess

    x = _tensor(x).float()
    y = preprocess(x.permute(0, 2, 3, 1) * 255.0, resize=resize, crop=crop, pre_resize=pre_resize)
    y = _denormalise_imagenet(y).clamp_(0.0, 1.0)
    return y[:, :1].contiguous() if x.shape[1] == 1 else y


def resize_short_crop_masks(
    masks: np.ndarray | torch.Tensor, resize: int, crop: int, pre_resize: int | None = None
) -> torch.Tensor:
    """Bool masks through the geometry of `resize_short_crop` (nearest neighbour; = `anoloc.knn.preprocess_masks`)."""
    from anoloc.knn import preprocess_masks

    m = masks.numpy() if hasattr(masks, "numpy") else np.asarray(masks)
    return preprocess_masks(m.astype(bool), resize=resize, crop=crop, pre_resize=pre_resize)


def _denormalise_imagenet(x: torch.Tensor) -> torch.Tensor:
    import torch

    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return x * std + mean


# ------------------------------------------------------------------------------------------ intensities
def zscore_stats(x: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (float64, ddof 0) over every pixel of images (N, C, H, W)."""
    a = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)
    mean = a.mean(axis=(0, 2, 3))
    std = a.std(axis=(0, 2, 3))
    return mean, np.where(std > 0, std, 1.0)


def normalise(
    x: np.ndarray | torch.Tensor,
    norm: str,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    clip: float | None = None,
) -> torch.Tensor:
    """Unit images (N, C, H, W) → the method's intensities (`NORMS`); `zscore` needs `stats` (`zscore_stats` of
    the normal training images after the same channel and size steps)."""
    import torch

    x = _tensor(x).float()
    if norm == "unit":
        return x
    if norm == "imagenet":
        if x.shape[1] != 3:
            raise ValueError("ImageNet normalisation needs 3 channels")
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std
    if norm == "zscore":
        if stats is None:
            raise ValueError("z-score normalisation needs the training statistics")
        mean = torch.as_tensor(stats[0], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.as_tensor(stats[1], dtype=torch.float32).view(1, -1, 1, 1)
        y = (x - mean) / std
        return y.clamp_(-clip, clip) if clip else y
    raise ValueError(f"unknown intensity normalisation {norm!r}; one of {NORMS}")


def adapt(
    adapter: Adapter,
    x: np.ndarray | torch.Tensor,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> torch.Tensor:
    """Unit images (N, C, H, W) → what the method needs: channels, then size, then intensities."""
    y = resize_images(to_channels(x, adapter.channels), adapter.size, adapter.mode)
    return normalise(y, adapter.norm, stats, adapter.clip)


def fit_stats(adapter: Adapter, train: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """The training statistics the adapter's normalisation needs (`zscore`), else None."""
    if adapter.norm != "zscore":
        return None
    return zscore_stats(resize_images(to_channels(train, adapter.channels), adapter.size, adapter.mode))
