"""Snakemake: fit one kNN method on one MVTec category, score its test images → scores CSV, metrics JSON,
panels, maps."""

from anoloc.data.mvtec import class_root
from anoloc.experiments.mvtec.steps import evaluate_class, write_class_result
from anoloc.jobs import start_job

start_job(snakemake)
result = evaluate_class(
    root=class_root(snakemake.input.layout),
    cls=snakemake.wildcards.category,
    knn=snakemake.params.knn,
    seed=int(snakemake.params.seed),
    n_examples=int(snakemake.params.n_examples),
    with_aupro=bool(snakemake.params.aupro),
    weights=snakemake.input.weights[0] if snakemake.input.weights else None,
    device=snakemake.params.device,
)
out = snakemake.output
write_class_result(result, out.scores, out.metrics, out.panels, out.maps)
