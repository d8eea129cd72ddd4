# SUPN on fluorescent cells (Vodenicharski et al. 2022, spec supn-cells §2–§6): prepare → stage 1 (encoder + mean)
# → stage 2 SUPN / diag (frozen encoder and mean) → cell scores of supn / diag / l2 × sampled / restoration per code
# variant and seed
# (+ SPADE / PaDiM / PatchCore when `mvtec.cells` enables them) → tables (table4) → figures (fig4, fig5).
from anoloc.experiments.cells import layout as CELLS_LAYOUT
from anoloc.experiments.mvtec import layout as KNN_LAYOUT

CELLS = config["cells"]
CELLS_CATEGORY = "Vodenicharski 2022: SUPN on fluorescent cells"
CELLS_PANEL_MODELS = CELLS_LAYOUT.panel_models(CELLS)


register_targets("cells", CELLS_LAYOUT.targets(CELLS))


# Reads a local folder, generates the synthetic set, or downloads the public archive (paper config):
# runs on the submitting host, never on compute nodes.
localrules:
    cells_prepare,


rule cells_prepare:
    output:
        npz=CELLS_LAYOUT.DATA,
    log:
        log_path("cells_prepare", "cells"),
    params:
        data=CELLS["data"],
        cache_dir=CELLS_LAYOUT.CACHE,
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
        npz=CELLS_LAYOUT.DATA,
    output:
        model=paths.partial(CELLS_LAYOUT.MODEL, stage="mean"),
        history=paths.partial(CELLS_LAYOUT.HISTORY, stage="mean"),
    log:
        log_path("cells_train_mean", "{variant}", "seed{seed}"),
    params:
        model=CELLS["model"],
        quirks=lambda wc: variant_section("cells", wc, "quirks"),
        train=CELLS["train_mean"],
        device=config["device"],
        checkpoints=paths.partial(CELLS_LAYOUT.CHECKPOINTS, stage="mean"),
        tensorboard=paths.partial(CELLS_LAYOUT.TENSORBOARD, stage="mean"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CELLS["train_mean"]["runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_train_mean", "{variant}", "seed{seed}")
    script:
        "../workflow/scripts/cells_train_mean.py"


rule cells_train_precision:
    input:
        npz=CELLS_LAYOUT.DATA,
        mean=CELLS_LAYOUT.mean_model,
    output:
        model=CELLS_LAYOUT.MODEL.replace("{stage}", "{precision}"),
        history=CELLS_LAYOUT.HISTORY.replace("{stage}", "{precision}"),
    log:
        log_path("cells_train_precision", "{variant}", "{precision}", "seed{seed}"),
    params:
        quirks=lambda wc: variant_section("cells", wc, "quirks"),
        train=CELLS["train_precision"],
        offdiag_bound=lambda wc: variant_section("cells", wc, "model")["offdiag_bound"],
        device=config["device"],
        checkpoints=CELLS_LAYOUT.CHECKPOINTS.replace("{stage}", "{precision}"),
        tensorboard=CELLS_LAYOUT.TENSORBOARD.replace("{stage}", "{precision}"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CELLS["train_precision"]["runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_train_precision", "{variant}", "{precision}", "seed{seed}")
    script:
        "../workflow/scripts/cells_train_precision.py"


rule cells_score:
    input:
        npz=CELLS_LAYOUT.DATA,
        model=CELLS_LAYOUT.scored_model,
    output:
        scores=CELLS_LAYOUT.VAE_SCORES,
    log:
        log_path("cells_score", "{variant}", "{model}_{inference}", "seed{seed}"),
    params:
        score=CELLS["score"],
        quirks=lambda wc: variant_section("cells", wc, "quirks"),
        device=config["device"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_score", "{variant}", "{model}_{inference}", "seed{seed}")
    script:
        "../workflow/scripts/cells_score.py"


# SPADE / PaDiM / PatchCore on the cells: the backbone and the methods' settings come from the `mvtec` section
# (the same models as on MVTec), which rows of the cells and how many seeds from `mvtec.cells`.
# Defined whenever the mvtec section is complete: table4 collects these rows when mvtec.cells is enabled, and the
# matrix asks for them even when it is not.
if CELLS_LAYOUT.knn_runnable(config):
    KNN_RES = config["mvtec"]["resources"]

    rule cells_score_knn:
        input:
            npz=CELLS_LAYOUT.DATA,
            weights=KNN_LAYOUT.weights_inputs(config["mvtec"]),
        output:
            scores=CELLS_LAYOUT.KNN_SCORES,
        log:
            log_path("cells_score_knn", "{knn_method}", "seed{seed}"),
        params:
            knn=lambda wc: KNN_LAYOUT.knn_section(config["mvtec"], wc.knn_method),
            n_train=config["mvtec"]["cells"]["n_train"],
            device=config["device"],
        threads: KNN_RES["threads"]
        resources:
            mem_mb=KNN_RES["mem_mb"],
            runtime=KNN_RES["runtime"],
            gpu=GPU,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("cells_score_knn", "{knn_method}", "seed{seed}")
        script:
            "../workflow/scripts/cells_score_knn.py"


# Conditioning of the learned precisions Λ = L Lᵀ (issue 11): per (variant, seed) the SUPN and diag models on every
# test cell at z = μ_z → table4_supn_diagnostics (+ summary) → fig4_conditioning.
rule cells_diagnose:
    input:
        npz=CELLS_LAYOUT.DATA,
        supn=paths.partial(CELLS_LAYOUT.MODEL, stage="supn"),
        diag=paths.partial(CELLS_LAYOUT.MODEL, stage="diag"),
    output:
        diagnostics=CELLS_LAYOUT.DIAGNOSTICS,
    log:
        log_path("cells_diagnose", "{variant}", "seed{seed}"),
    params:
        quirks=lambda wc: variant_section("cells", wc, "quirks"),
        diagnostics=CELLS["diagnostics"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("cells_diagnose", "{variant}", "seed{seed}")
    script:
        "../workflow/scripts/cells_diagnose.py"


rule cells_diagnostics:
    input:
        diagnostics=CELLS_LAYOUT.diagnostics_files(CELLS),
    output:
        table=report(CELLS_LAYOUT.TABLE4_DIAGNOSTICS, caption="../report/table4_supn_diagnostics.rst", category=CELLS_CATEGORY),
        summary=report(
            CELLS_LAYOUT.TABLE4_DIAGNOSTICS_SUMMARY,
            caption="../report/table4_supn_diagnostics.rst",
            category=CELLS_CATEGORY,
        ),
        png=report(CELLS_LAYOUT.FIG4_CONDITIONING[0], caption="../report/table4_supn_diagnostics.rst", category=CELLS_CATEGORY),
        pdf=CELLS_LAYOUT.FIG4_CONDITIONING[1],
    log:
        log_path("cells_diagnostics", "table4_supn_diagnostics"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_diagnostics.py"


rule cells_tables:
    input:
        scores=CELLS_LAYOUT.table4_inputs(config),
    output:
        table=report(CELLS_LAYOUT.TABLE4, caption="../report/table4.rst", category=CELLS_CATEGORY),
        runs=report(CELLS_LAYOUT.TABLE4_RUNS, caption="../report/table4.rst", category=CELLS_CATEGORY),
    log:
        log_path("cells_tables", "table4"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_tables.py"


rule cells_panels:
    input:
        npz=CELLS_LAYOUT.DATA,
        **CELLS_PANEL_MODELS,
    output:
        panels=CELLS_LAYOUT.PANELS,
    log:
        log_path("cells_panels", "fig4"),
    params:
        figures=CELLS["figures"],
        quirks=variants.apply("cells", CELLS, CELLS["variants"][0])["quirks"],
        seed=CELLS["seeds"][0],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/cells_panels.py"


rule cells_figures:
    input:
        panels=CELLS_LAYOUT.PANELS,
        runs=CELLS_LAYOUT.TABLE4_RUNS,
    output:
        fig4_png=report(CELLS_LAYOUT.FIG4[0], caption="../report/fig4.rst", category=CELLS_CATEGORY),
        fig4_pdf=CELLS_LAYOUT.FIG4[1],
        fig5_png=report(CELLS_LAYOUT.FIG5[0], caption="../report/fig5.rst", category=CELLS_CATEGORY),
        fig5_pdf=CELLS_LAYOUT.FIG5[1],
    log:
        log_path("cells_figures", "fig4_fig5"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/cells_figures.py"


# Learning curve (`cells.curve`, off by default; config/cells_curve.yaml): per seed ONE stage-1 run of max(steps)
# optimiser steps with a snapshot at each step count, ONE stage-2 run each (SUPN, diag) from the final stage-1
# snapshot with snapshots at the same counts; every snapshot scored like table4 → table4_curve, fig4_curve.
if CELLS["curve"]["enabled"]:
    from anoloc.experiments.cells import curve_layout as CURVE_LAYOUT

    CURVE = CELLS["curve"]
    CURVE_CATEGORY = "Vodenicharski 2022: SUPN on fluorescent cells (learning curve)"
    CURVE_PRECISION_SNAPSHOT = CURVE_LAYOUT.SNAPSHOT.replace("{stage}", "{precision}")

    register_targets("cells", TARGETS["cells"] + CURVE_LAYOUT.targets(CELLS))

    rule cells_curve_train_mean:
        input:
            npz=CELLS_LAYOUT.DATA,
        output:
            snapshots=CURVE_LAYOUT.snapshot_files(CELLS, stage="mean"),
            history=paths.partial(CURVE_LAYOUT.HISTORY, stage="mean"),
        log:
            log_path("cells_curve_train_mean", "{variant}", "seed{seed}"),
        params:
            model=CELLS["model"],
            quirks=lambda wc: variant_section("cells", wc, "quirks"),
            train=CELLS["train_mean"],
            curve=CURVE,
            device=config["device"],
            checkpoints=paths.partial(CURVE_LAYOUT.CHECKPOINTS, stage="mean"),
            tensorboard=paths.partial(CURVE_LAYOUT.TENSORBOARD, stage="mean"),
        threads: 1
        resources:
            mem_mb=4000,
            runtime=CURVE["runtime"],
            gpu=GPU,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("cells_curve_train_mean", "{variant}", "seed{seed}")
        script:
            "../workflow/scripts/cells_curve_train_mean.py"

    rule cells_curve_train_precision:
        input:
            npz=CELLS_LAYOUT.DATA,
            mean=CURVE_LAYOUT.stage1_final_snapshot(CELLS),
        output:
            snapshots=CURVE_LAYOUT.snapshot_files(CELLS, CURVE_PRECISION_SNAPSHOT),
            history=CURVE_LAYOUT.HISTORY.replace("{stage}", "{precision}"),
        log:
            log_path("cells_curve_train_precision", "{variant}", "{precision}", "seed{seed}"),
        params:
            quirks=lambda wc: variant_section("cells", wc, "quirks"),
            train=CELLS["train_precision"],
            curve=CURVE,
            offdiag_bound=lambda wc: variant_section("cells", wc, "model")["offdiag_bound"],
            device=config["device"],
            checkpoints=CURVE_LAYOUT.CHECKPOINTS.replace("{stage}", "{precision}"),
            tensorboard=CURVE_LAYOUT.TENSORBOARD.replace("{stage}", "{precision}"),
        threads: 1
        resources:
            mem_mb=4000,
            runtime=CURVE["runtime"],
            gpu=GPU,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("cells_curve_train_precision", "{variant}", "{precision}", "seed{seed}")
        script:
            "../workflow/scripts/cells_curve_train_precision.py"

    rule cells_curve_score:
        input:
            npz=CELLS_LAYOUT.DATA,
            snapshot=CURVE_LAYOUT.scored_snapshot,
        output:
            scores=CURVE_LAYOUT.SCORES,
        log:
            log_path("cells_curve_score", "{variant}", "{model}_{inference}", "step{step}", "seed{seed}"),
        params:
            score=CELLS["score"],
            quirks=lambda wc: variant_section("cells", wc, "quirks"),
            device=config["device"],
        threads: 1
        resources:
            mem_mb=3000,
            runtime=60,
            gpu=GPU,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("cells_curve_score", "{variant}", "{model}_{inference}", "step{step}", "seed{seed}")
        script:
            "../workflow/scripts/cells_curve_score.py"

    rule cells_curve_tables:
        input:
            scores=CURVE_LAYOUT.score_files(CELLS),
        output:
            table=report(CURVE_LAYOUT.TABLE, caption="../report/table4_curve.rst", category=CURVE_CATEGORY),
        log:
            log_path("cells_curve_tables", "table4_curve"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/plot.yaml"
        script:
            "../workflow/scripts/cells_curve_tables.py"

    rule cells_curve_figures:
        input:
            table=CURVE_LAYOUT.TABLE,
        output:
            png=report(CURVE_LAYOUT.FIGURE[0], caption="../report/table4_curve.rst", category=CURVE_CATEGORY),
            pdf=CURVE_LAYOUT.FIGURE[1],
        log:
            log_path("cells_curve_figures", "fig4_curve"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/plot.yaml"
        script:
            "../workflow/scripts/cells_curve_figures.py"
