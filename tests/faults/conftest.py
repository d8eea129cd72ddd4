"""Registers the `faults` marker of the fault-injection suite (`pytest -m faults`).

Kept here so that `--strict-markers` accepts the suite before the marker is listed in pyproject.toml; once it is
listed there, this file can go.
"""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: fault-injection tests (hostile/corrupt inputs, full disk); fast")
