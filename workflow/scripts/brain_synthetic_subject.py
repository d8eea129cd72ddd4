"""Snakemake: one synthetic subject as NIfTI in the HCP layout (T2) or the BraTS layout (T2 + segmentation)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import generate_subject  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
is_brats = "seg" in snakemake.output.keys()  # noqa: SIM118 (a Namedlist)
generate_subject(
    template=snakemake.input.template,
    dataset="brats" if is_brats else "hcp",
    subject=snakemake.wildcards.brain_subject,
    synthetic_cfg=snakemake.params.synthetic,
    t2_out=snakemake.output.t2,
    seg_out=snakemake.output.seg if is_brats else None,
    grade=snakemake.wildcards.get("brain_grade"),
)
