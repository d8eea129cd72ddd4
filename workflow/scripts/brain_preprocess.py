"""Snakemake: preprocess one subject's NIfTI T2 (+ BraTS segmentation) into one .npz of axial slices."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import preprocess  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
preprocess(
    t2=snakemake.input.t2,
    seg=snakemake.input.get("seg"),
    dataset=snakemake.wildcards.brain_dataset,
    subject=snakemake.wildcards.brain_subject,
    cfg=snakemake.params.preprocess,
    out=snakemake.output.npz,
)
