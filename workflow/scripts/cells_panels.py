"""Snakemake: the arrays of fig4 (inputs, means, L2 / diag / SUPN maps, a SUPN sample) of the first seed → .npz."""

from anoloc.experiments.cells.steps import panels
from anoloc.io import save_npz
from anoloc.jobs import start_job

start_job(snakemake)
arrays = panels(
    npz=snakemake.input.npz,
    mean_model=snakemake.input.mean,
    diag_model=snakemake.input.diag,
    supn_model=snakemake.input.supn,
    quirks=snakemake.params.quirks,
    n_healthy=int(snakemake.params.figures["n_healthy"]),
    n_infected=int(snakemake.params.figures["n_infected"]),
    seed=int(snakemake.params.seed),
    repair_rho=snakemake.params.figures["sample_repair_rho"],
)
save_npz(snakemake.output.panels, arrays)
