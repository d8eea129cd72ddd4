"""What every rule script does first: send stderr to the job's log, set up logging, limit torch's threads.

A rule script is thin (read `snakemake.input/output/params/wildcards`, call one library function). It starts with

    from anoloc.jobs import start_job
    log = start_job(snakemake)

`snakemake` is passed in (duck-typed: anything with `log`, `threads`), so this module never imports Snakemake.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from anoloc.utils import seed_everything, set_threads, setup_logging


def start_job(smk: Any, seed: int | None = None) -> logging.Logger:
    """Redirect stderr to `smk.log[0]` (line-buffered, for the whole job), configure logging to it, set torch's
    intra-op threads to `smk.threads` when torch is in use, and seed every RNG if `seed` is given."""
    if smk.log:
        sys.stderr = open(smk.log[0], "w", buffering=1)  # noqa: SIM115 - stays open for the whole job
    logger = setup_logging()
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter of the figure jobs
    if "torch" in sys.modules:  # the plotting environment has no torch
        set_threads(smk.threads)
    if seed is not None:
        seed_everything(seed)
    return logger
