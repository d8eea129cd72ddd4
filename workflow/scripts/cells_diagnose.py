"""Snakemake: conditioning of the SUPN and diag precisions of one (variant, seed) on every test cell → CSV."""

from anoloc.experiments.cells.steps import diagnose
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
cfg = snakemake.params.diagnostics
frame = diagnose(
    npz=snakemake.input.npz,
    models={"supn": snakemake.input.supn, "diag": snakemake.input.diag},
    quirks=snakemake.params.quirks,
    sigma_min_cells=int(cfg["sigma_min_cells"]),
    batch_size=int(cfg["batch_size"]),
)
write_csv(frame, snakemake.output.diagnostics)
