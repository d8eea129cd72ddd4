# SUPN on fluorescent cells (Vodenicharski et al. 2022, spec supn-cells §2–§5): prepare → stage 1 (encoder + mean)
# → stage 2 SUPN / diag (frozen encoder and mean) → cell scores of supn / diag / l2 × sampled / restoration per seed
# → table4 (+ the kNN methods' rows when the mvtec experiment scores the cells) → fig4, fig5.
from anoloc.cells_paths import (
    CELLS_FIG4_PANELS,
    CELLS_FIGURES,
    CELLS_HISTORY,
    CELLS_MODEL,
    CELLS_PREPARED,
    CELLS_RUN_DIR,
    CELLS_TABLE,
    CELLS_TABLE_RUNS,
    CELLS_TENSORBOARD,
    CELLS_VAE_SCORES,
    cell_stage_of,
    table4_inputs,
)

CELLS = config["cells"]
CELLS_CATEGORY = "Vodenicharski 2022: SUPN on fluorescent cells"
CELLS_FIRST_SEED = CELLS["seeds"][0]


wildcard_constraints:
    cell_model="supn|diag|l2",
    cell_variant="sampled|restoration",
    cell_stage="mean|supn|diag",
    cell_precision="supn|diag",
    cell_seed=r"\d+",


register_targets("cells", [CELLS_TABLE, CELLS_TABLE_RUNS, *CELLS_FIGURES])


# Reads a local folder, generates the synthetic set, or downloads the public archive (paper config):
# runs on the submitting host, never on compute nodes.
localrules:
    cells_prepare,


rule cells_prepare:
    output:
        npz=CELLS_PREPARED,
    log:
        log_path("cells_prepare", "cells"),
    params:
        data=CELLS["data"],
        cache_dir="resources/cells/cache",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/cells_prepare.py"


rule cells_train_mean:
    input:
        npz=CELLS_PREPARED,
    output:
        model=CELLS_MODEL.replace("{cell_stage}", "mean"),
        history=CELLS_HISTORY.replace("{cell_stage}", "mean"),
    log:
        log_path("cells_train_mean", "seed{cell_seed}"),
    params:
        model=CELLS["model"],
        quirks=CELLS["quirks"],
        train=CELLS["train_mean"],
        device=config["device"],
        run_dir=CELLS_RUN_DIR.replace("{cell_stage}", "mean"),
        tensorboard_dir=CELLS_TENSORBOARD.replace("{cell_stage}", "mean"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CELLS["train_mean"].get("runtime", 60),
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_train_mean", "seed{cell_seed}")
    script:
        "../workflow/scripts/cells_train_mean.py"


rule cells_train_precision:
    input:
        npz=CELLS_PREPARED,
        mean=CELLS_MODEL.replace("{cell_stage}", "mean"),
    output:
        model=CELLS_MODEL.replace("{cell_stage}", "{cell_precision}"),
        history=CELLS_HISTORY.replace("{cell_stage}", "{cell_precision}"),
    log:
        log_path("cells_train_precision", "{cell_precision}", "seed{cell_seed}"),
    params:
        quirks=CELLS["quirks"],
        train=CELLS["train_precision"],
        device=config["device"],
        run_dir=CELLS_RUN_DIR.replace("{cell_stage}", "{cell_precision}"),
        tensorboard_dir=CELLS_TENSORBOARD.replace("{cell_stage}", "{cell_precision}"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CELLS["train_precision"].get("runtime", 60),
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_train_precision", "{cell_precision}", "seed{cell_seed}")
    script:
        "../workflow/scripts/cells_train_precision.py"


rule cells_score:
    input:
        npz=CELLS_PREPARED,
        model=lambda wc: CELLS_MODEL.format(cell_seed=wc.cell_seed, cell_stage=cell_stage_of(wc.cell_model)),
    output:
        scores=CELLS_VAE_SCORES,
    log:
        log_path("cells_score", "{cell_model}_{cell_variant}", "seed{cell_seed}"),
    params:
        score=CELLS["score"],
        quirks=CELLS["quirks"],
        device=config["device"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_score", "{cell_model}_{cell_variant}", "seed{cell_seed}")
    script:
        "../workflow/scripts/cells_score.py"


rule cells_table:
    input:
        scores=table4_inputs(config),
    output:
        table=report(CELLS_TABLE, caption="../report/table4.rst", category=CELLS_CATEGORY),
        runs=report(CELLS_TABLE_RUNS, caption="../report/table4.rst", category=CELLS_CATEGORY),
    log:
        log_path("cells_table", "table4"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_table.py"


rule cells_fig4_panels:
    input:
        npz=CELLS_PREPARED,
        mean=CELLS_MODEL.format(cell_seed=CELLS_FIRST_SEED, cell_stage="mean"),
        diag=CELLS_MODEL.format(cell_seed=CELLS_FIRST_SEED, cell_stage="diag"),
        supn=CELLS_MODEL.format(cell_seed=CELLS_FIRST_SEED, cell_stage="supn"),
    output:
        panels=CELLS_FIG4_PANELS,
    log:
        log_path("cells_fig4_panels", "fig4"),
    params:
        figures=CELLS["figures"],
        quirks=CELLS["quirks"],
        seed=CELLS_FIRST_SEED,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/cells_fig4_panels.py"


rule cells_fig4:
    input:
        panels=CELLS_FIG4_PANELS,
    output:
        png=report("results/figures/fig4.png", caption="../report/fig4.rst", category=CELLS_CATEGORY),
        pdf="results/figures/fig4.pdf",
    log:
        log_path("cells_fig4", "fig4"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_fig4.py"


rule cells_fig5:
    input:
        runs=CELLS_TABLE_RUNS,
    output:
        png=report("results/figures/fig5.png", caption="../report/fig5.rst", category=CELLS_CATEGORY),
        pdf="results/figures/fig5.pdf",
    log:
        log_path("cells_fig5", "fig5"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_fig5.py"
