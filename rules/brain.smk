# Pixel-wise brain MRI experiment (Zimmerer et al. 2019, spec vae-kl-grad §3–§5): HCP (healthy) → BraTS (tumours).
# [synthetic cohort: template → one NIfTI job per subject] → preprocess (one job per subject) → train (per seed)
# → score (per seed) → table2 / table3 → fig2 / fig3.
from anoloc import brain_paths as BP

BRAIN = config["brain"]
BRAIN_CATEGORY = "Zimmerer 2019: pixel-wise brain MRI (HCP → BraTS)"
BRAIN_COHORT = BP.cohort(BRAIN)


wildcard_constraints:
    brain_cohort="synthetic|real",
    brain_dataset="hcp|brats",
    brain_subject=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    brain_grade="HGG|LGG",
    brain_seed=r"\d+",


register_targets("brain", [*BP.TABLES, *BP.FIGURES])

# Stop before any job when the real HCP / BraTS folders are missing or malformed.
if BRAIN["enabled"]:
    BP.validate(BRAIN)


rule brain_synthetic_template:
    output:
        npz=BP.SYNTH_TEMPLATE,
    log:
        log_path("brain_synthetic_template", "template"),
    params:
        smooth_mm=lambda wc: 0.4
        * min(BRAIN["data"]["synthetic"]["hcp_voxel_mm"], BRAIN["data"]["synthetic"]["brats_voxel_mm"]),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/brain_synthetic_template.py"


rule brain_synthetic_hcp:
    input:
        template=BP.SYNTH_TEMPLATE,
    output:
        t2=BP.SYNTH_HCP_T2,
    log:
        log_path("brain_synthetic_hcp", "{brain_subject}"),
    params:
        synthetic=BRAIN["data"]["synthetic"],
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/brain_synthetic_subject.py"


rule brain_synthetic_brats:
    input:
        template=BP.SYNTH_TEMPLATE,
    output:
        t2=BP.SYNTH_BRATS_T2,
        seg=BP.SYNTH_BRATS_SEG,
    log:
        log_path("brain_synthetic_brats", "{brain_grade}", "{brain_subject}"),
    params:
        synthetic=BRAIN["data"]["synthetic"],
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/brain_synthetic_subject.py"


rule brain_preprocess:
    input:
        unpack(BP.raw_inputs(BRAIN)),
    output:
        npz=BP.PREPROCESSED,
    log:
        log_path("brain_preprocess", "{brain_cohort}", "{brain_dataset}", "{brain_subject}"),
    params:
        preprocess=BRAIN["preprocess"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/brain_preprocess.py"


rule brain_train:
    input:
        unpack(lambda wc: BP.train_inputs(BRAIN)),
    output:
        model=f"{BP.MODEL_DIR}/model.pt",
        history=f"{BP.MODEL_DIR}/history.csv",
    log:
        log_path("brain_train", "{brain_cohort}", "seed{brain_seed}"),
    params:
        model=BRAIN["model"],
        train=BRAIN["train"],
        clip=BRAIN["preprocess"]["clip"],
        device=config["device"],
        run_dir=BP.RUN_DIR,
        tensorboard_dir=BP.TENSORBOARD_DIR,
    threads: 2
    resources:
        mem_mb=BRAIN["resources"]["train_mem_mb"],
        runtime=BRAIN["resources"]["train_runtime"],
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("brain_train", "{brain_cohort}", "seed{brain_seed}")
    script:
        "../workflow/scripts/brain_train.py"


rule brain_score:
    input:
        model=f"{BP.MODEL_DIR}/model.pt",
        brats=lambda wc: BP.preprocessed_files(BRAIN, "brats"),
        hcp_val=lambda wc: BP.train_inputs(BRAIN)["val"],
    output:
        brats=BP.SCORES_BRATS,
        hcp_val=BP.SCORES_HCP_VAL,
    log:
        log_path("brain_score", "{brain_cohort}", "seed{brain_seed}"),
    params:
        score=BRAIN["score"],
        device=config["device"],
    threads: 2
    resources:
        mem_mb=BRAIN["resources"]["score_mem_mb"],
        runtime=BRAIN["resources"]["score_runtime"],
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("brain_score", "{brain_cohort}", "seed{brain_seed}")
    script:
        "../workflow/scripts/brain_score.py"


rule brain_tables:
    input:
        brats=BP.score_files(BRAIN, "brats"),
        hcp_val=BP.score_files(BRAIN, "hcp_val"),
    output:
        table2=report("results/tables/table2.csv", caption="../report/table2.rst", category=BRAIN_CATEGORY),
        table3=report("results/tables/table3.csv", caption="../report/table3.rst", category=BRAIN_CATEGORY),
        summary=report(
            "results/tables/table3_summary.csv", caption="../report/table3_summary.rst", category=BRAIN_CATEGORY
        ),
    log:
        log_path("brain_tables", "table2_table3"),
    params:
        evaluate=BRAIN["evaluate"],
    threads: 1
    resources:
        mem_mb=BRAIN["resources"]["score_mem_mb"],
        runtime=BRAIN["resources"]["score_runtime"],
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/brain_tables.py"


rule brain_figures:
    input:
        brats=BP.score_files(BRAIN, "brats")[0],
    output:
        fig2_png=report("results/figures/fig2.png", caption="../report/fig2.rst", category=BRAIN_CATEGORY),
        fig2_pdf="results/figures/fig2.pdf",
        fig3_png=report("results/figures/fig3.png", caption="../report/fig3.rst", category=BRAIN_CATEGORY),
        fig3_pdf="results/figures/fig3.pdf",
    log:
        log_path("brain_figures", "fig2_fig3"),
    params:
        figures=BRAIN["figures"],
        clip=BRAIN["preprocess"]["clip"],
    threads: 1
    resources:
        mem_mb=BRAIN["resources"]["score_mem_mb"],
        runtime=30,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/brain_figures.py"
