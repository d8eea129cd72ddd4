"""Shared fixtures. Tests are offline; the real FL cell dataset is used when ../shared exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FL_DATASET = SHARED / "data" / "fl_dataset"


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def fl_dataset() -> Path:
    """The real fluorescent cell dataset (CC BY 4.0), provided beside the checkout in CI; never committed."""
    if not FL_DATASET.is_dir():
        pytest.skip(f"real FL dataset not found at {FL_DATASET}")
    return FL_DATASET
