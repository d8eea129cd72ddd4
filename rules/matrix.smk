# Beyond the papers (issue 14): every method on every dataset, one evaluator, one matrix. Cells that coincide with a
# paper experiment are read from that experiment's score files (its own jobs, code variant `corrected`); the new
# cells are the jobs below: a kNN method or a baseline fitted and scored in one job per (dataset, subset, seed)
# (matrix_score), the brain's conv VAE trained and scored on other datasets (matrix_train_vae, matrix_score_vae)
# → tables (matrix.csv, matrix_summary.csv) → figures (fig7, fig7_ranks).
from anoloc.experiments.matrix import layout as MATRIX_LAYOUT

MATRIX = config["matrix"]
MATRIX_CATEGORY = "Beyond the papers: every method on every dataset"
MATRIX_RES = MATRIX["resources"]

register_targets("matrix", MATRIX_LAYOUT.targets(MATRIX))
if MATRIX["enabled"]:
    MATRIX_LAYOUT.validate(config)
    if "brain" in MATRIX["datasets"] and not BRAIN["enabled"]:
        BRAIN_COHORT.validate(BRAIN)  # the matrix reads the brain data even when the brain experiment is off


rule matrix_score:
    input:
        unpack(MATRIX_LAYOUT.data_inputs(config)),
    output:
        scores=MATRIX_LAYOUT.SCORES,
    log:
        log_path("matrix_score", "{matrix_dataset}", "{subset}", "{matrix_method}", "seed{seed}"),
    params:
        section=lambda wc: MATRIX_LAYOUT.job_section(config, wc.matrix_dataset, wc.matrix_method),
        device=config["device"],
    threads: MATRIX_RES["threads"]
    resources:
        mem_mb=MATRIX_RES["mem_mb"],
        runtime=MATRIX_RES["runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("matrix_score", "{matrix_dataset}", "{subset}", "{matrix_method}", "seed{seed}")
    script:
        "../workflow/scripts/matrix_score.py"


rule matrix_train_vae:
    input:
        unpack(MATRIX_LAYOUT.data_inputs(config)),
    output:
        model=MATRIX_LAYOUT.VAE_MODEL,
        history=MATRIX_LAYOUT.VAE_HISTORY,
    log:
        log_path("matrix_train_vae", "{matrix_dataset}", "{subset}", "seed{seed}"),
    params:
        section=lambda wc: MATRIX_LAYOUT.job_section(config, wc.matrix_dataset, MATRIX_LAYOUT.VAE),
        device=config["device"],
        checkpoints=MATRIX_LAYOUT.VAE_CHECKPOINTS,
        tensorboard=MATRIX_LAYOUT.VAE_TENSORBOARD,
    threads: MATRIX_RES["threads"]
    resources:
        mem_mb=MATRIX_RES["mem_mb"],
        runtime=MATRIX_RES["runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("matrix_train_vae", "{matrix_dataset}", "{subset}", "seed{seed}")
    script:
        "../workflow/scripts/matrix_train_vae.py"


rule matrix_score_vae:
    input:
        unpack(MATRIX_LAYOUT.data_inputs(config)),
        model=MATRIX_LAYOUT.VAE_MODEL,
    output:
        scores=MATRIX_LAYOUT.VAE_SCORES,
    log:
        log_path("matrix_score_vae", "{matrix_dataset}", "{subset}", "seed{seed}"),
    params:
        section=lambda wc: MATRIX_LAYOUT.job_section(config, wc.matrix_dataset, MATRIX_LAYOUT.VAE),
        device=config["device"],
    threads: MATRIX_RES["threads"]
    resources:
        mem_mb=MATRIX_RES["mem_mb"],
        runtime=MATRIX_RES["runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("matrix_score_vae", "{matrix_dataset}", "{subset}", "seed{seed}")
    script:
        "../workflow/scripts/matrix_score_vae.py"


rule matrix_tables:
    input:
        lambda wc: MATRIX_LAYOUT.table_inputs(config),
    output:
        table=report(MATRIX_LAYOUT.TABLE, caption="../report/matrix.rst", category=MATRIX_CATEGORY),
        summary=report(MATRIX_LAYOUT.SUMMARY, caption="../report/matrix_summary.rst", category=MATRIX_CATEGORY),
    log:
        log_path("matrix_tables", "matrix"),
    params:
        sources=lambda wc: [s.as_dict() for s in MATRIX_LAYOUT.sources(config)],
        na=lambda wc: MATRIX_LAYOUT.na_cells(config),
        evaluate=lambda wc: MATRIX_LAYOUT.evaluate_section(config),
    threads: 1
    resources:
        mem_mb=MATRIX_RES["mem_mb"],
        runtime=30,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/matrix_tables.py"


rule matrix_figures:
    input:
        summary=MATRIX_LAYOUT.SUMMARY,
    output:
        fig7_png=report(MATRIX_LAYOUT.FIG7[0], caption="../report/fig7.rst", category=MATRIX_CATEGORY),
        fig7_pdf=MATRIX_LAYOUT.FIG7[1],
        ranks_png=report(MATRIX_LAYOUT.FIG7_RANKS[0], caption="../report/fig7_ranks.rst", category=MATRIX_CATEGORY),
        ranks_pdf=MATRIX_LAYOUT.FIG7_RANKS[1],
    log:
        log_path("matrix_figures", "fig7"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/matrix_figures.py"
