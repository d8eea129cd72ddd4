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


@pytest.fixture
def http_server(tmp_path):
    """Serve a fresh folder on 127.0.0.1; yields (folder, base_url). Tests put files into the folder."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _quiet_handler_base():
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

    return Handler


_QuietHandler = _quiet_handler_base()
