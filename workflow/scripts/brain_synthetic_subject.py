"""Snakemake: one synthetic subject as NIfTI in the HCP layout (T2) or the BraTS layout (T2 + segmentation)."""

from anoloc.experiments.brain.steps import generate_subject
from anoloc.jobs import start_job

start_job(snakemake)
is_brats = "seg" in snakemake.output.keys()  # noqa: SIM118 (a Namedlist)
generate_subject(
    template=snakemake.input.template,
    dataset="brats" if is_brats else "hcp",
    subject=snakemake.wildcards.subject,
    synthetic_cfg=snakemake.params.synthetic,
    t2_out=snakemake.output.t2,
    seg_out=snakemake.output.seg if is_brats else None,
    grade=snakemake.wildcards.get("grade"),
)
