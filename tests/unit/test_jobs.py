"""anoloc.jobs.start_job: the first call of every rule script."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import torch

from anoloc.jobs import start_job


def test_start_job_logs_to_the_job_log_and_sets_threads(tmp_path, monkeypatch):
    log = tmp_path / "logs" / "job.log"
    log.parent.mkdir()
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # restored after the test
    before = torch.get_num_threads()
    try:
        logger = start_job(SimpleNamespace(log=[str(log)], threads=1), seed=3)
        logger.info("hello from the job")
        print("a warning on stderr", file=sys.stderr)
        assert torch.get_num_threads() == 1
        assert torch.initial_seed() == 3
    finally:
        sys.stderr.close()
        torch.set_num_threads(before)
        logging.basicConfig(handlers=[logging.StreamHandler()], force=True)
    text = log.read_text()
    assert "hello from the job" in text and "a warning on stderr" in text
