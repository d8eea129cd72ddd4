"""Snakemake: fig4 — inputs, means, L2 / diag / SUPN Mahalanobis maps and a SUPN sample for a few cells."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np  # noqa: E402

from anoloc.plots import save_figure  # noqa: E402
from anoloc.plots.cells import fig4_maps  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
with np.load(snakemake.input.panels, allow_pickle=False) as z:
    panels = {k: z[k] for k in z.files}
save_figure(fig4_maps(panels), snakemake.output.png, snakemake.output.pdf)
