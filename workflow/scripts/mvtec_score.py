"""Snakemake: fit one kNN method on one MVTec class, score its test images → scores CSV, metrics JSON, examples."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import class_root, evaluate_class, write_class_result  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
result = evaluate_class(
    root=class_root(snakemake.input.layout),
    cls=snakemake.wildcards.mvtec_class,
    method=snakemake.wildcards.mvtec_method,
    cfg=snakemake.params.mvtec,
    weights=snakemake.input.weights[0] if snakemake.input.weights else None,
    device=snakemake.params.device,
)
write_class_result(result, snakemake.output.scores, snakemake.output.metrics, snakemake.output.examples)
