"""Snakemake: preprocess one subject's NIfTI T2 (+ BraTS segmentation) into one .npz of axial slices."""

from anoloc.data.brain.prepare import preprocess
from anoloc.jobs import start_job

start_job(snakemake)
preprocess(
    t2=snakemake.input.t2,
    seg=snakemake.input.get("seg"),
    dataset=snakemake.wildcards.dataset,
    subject=snakemake.wildcards.subject,
    cfg=snakemake.params.preprocess,
    out=snakemake.output.npz,
)
