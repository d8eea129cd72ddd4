"""Reading image files of a data set: any decoding failure is an `AnolocError` that names the file.

Pillow raises many things for a bad file (OSError "image file is truncated", SyntaxError for a broken header,
ValueError, zlib/struct errors, `DecompressionBombError` for a header declaring an absurd size). They are all
turned into one message here; `DecompressionBombWarning` (a size between Pillow's limit and twice it) is
treated as an error too, since no data set of this project has images anywhere near that size.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from anoloc.utils import AnolocError, PathLike

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


def read_image(
    path: PathLike, mode: str | Callable[[str], str] | None = None, hint: str = ""
) -> tuple[np.ndarray, str]:
    """(pixels, the file's own PIL mode). `mode` converts the pixels: a PIL mode, or a function of the file's mode.

    A missing, corrupt, truncated or decompression-bomb file raises `AnolocError` naming `path`, followed by
    `hint` (what the user should do; a generic sentence by default).
    """
    path = Path(path)
    hint = hint or "Replace it with the original file (or delete the extracted data and rerun)."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                native = im.mode
                target = mode(native) if callable(mode) else mode
                im.load()
                arr = np.asarray(im.convert(target) if target and target != native else im)
    except FileNotFoundError as exc:
        raise AnolocError(f"{path}: cannot read the image, the file does not exist. {hint}") from exc
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            why = f"its header declares an absurd size, tripping Pillow's decompression-bomb guard ({exc})"
        else:
            why = f"it cannot be decoded ({type(exc).__name__}: {exc}); the file is corrupt or truncated"
        raise AnolocError(f"{path}: cannot read the image: {why}. {hint}") from exc
    return arr, native
