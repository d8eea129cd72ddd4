"""Shared fixtures. Tests are offline; the real FL cell dataset is used when ../shared exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.helpers import FL_DATASET, ROOT


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


@dataclass
class SnakemakeRun:
    returncode: int
    output: str  # stdout + stderr
    jobs: dict[str, int]  # Snakemake's job stats (rule → count, and `total`)


@pytest.fixture
def snakemake_run(tmp_path):
    """Run this checkout's Snakefile in a fresh working folder (`tmp_path/work`, holding a copy of config/):
    `snakemake_run(*args, check=True)` → SnakemakeRun. A dry run: pass "-n"."""
    work = tmp_path / "work"
    if not work.exists():
        shutil.copytree(ROOT / "config", work / "config")

    def run(*args: str, check: bool = True, timeout: float = 900) -> SnakemakeRun:
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--nolock", *args],
            cwd=work, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        out = proc.stdout + proc.stderr
        if check:
            assert proc.returncode == 0, out[-6000:]
        block = proc.stdout.split("Job stats:")[-1].split("Reasons:")[0] if "Job stats:" in proc.stdout else ""
        jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}
        return SnakemakeRun(proc.returncode, out, jobs)

    run.work = work
    return run


@pytest.fixture
def dry_run(snakemake_run):
    """`dry_run(*args)` → {rule: job count, "total": n} of `snakemake -n *args` in a fresh working folder."""

    def run(*args: str) -> dict[str, int]:
        return snakemake_run("-n", *args).jobs

    run.work = snakemake_run.work
    return run


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
