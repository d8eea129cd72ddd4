# Pixel-wise brain MRI experiment (Zimmerer et al. 2019, spec vae-kl-grad §3–§5): HCP (healthy) → BraTS (tumours).
# [synthetic cohort: template → one NIfTI job per subject] → preprocess (one job per subject) → train (per code
# variant × run × seed) → score (same) → tables (table2, table3) → figures (fig2, fig3).
from anoloc.data.brain import cohort as BRAIN_COHORT
from anoloc.experiments.brain import layout as BRAIN_LAYOUT

BRAIN = config["brain"]
BRAIN_CATEGORY = "Zimmerer 2019: pixel-wise brain MRI (HCP → BraTS)"

register_targets("brain", BRAIN_LAYOUT.targets(BRAIN))

# Stop before any job when the real HCP / BraTS folders are missing or malformed.
if BRAIN["enabled"]:
    BRAIN_COHORT.validate(BRAIN)
    BRAIN_LAYOUT.validate_sweep(BRAIN)


# The synthetic demo cohort (source `synthetic`): the template and every subject in one job (a few seconds each).
if BRAIN_COHORT.cohort(BRAIN) == "synthetic":

    rule brain_synthetic:
        output:
            template=BRAIN_LAYOUT.SYNTH_TEMPLATE,
            volumes=BRAIN_LAYOUT.synthetic_files(BRAIN),
        log:
            log_path("brain_synthetic", "cohort"),
        params:
            synthetic=BRAIN["data"]["synthetic"],
            smooth_mm=0.4
            * min(BRAIN["data"]["synthetic"]["hcp_voxel_mm"], BRAIN["data"]["synthetic"]["brats_voxel_mm"]),
            hcp=lambda wc: BRAIN_COHORT.subjects(BRAIN).hcp,
            brats=lambda wc: BRAIN_LAYOUT.synthetic_brats(BRAIN),
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow/scripts/brain_synthetic.py"


rule brain_preprocess:
    input:
        unpack(BRAIN_LAYOUT.raw_inputs(BRAIN)),
    output:
        npz=BRAIN_LAYOUT.PREPROCESSED,
    log:
        log_path("brain_preprocess", "{cohort}", "{dataset}", "{subject}"),
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
        unpack(lambda wc: BRAIN_LAYOUT.train_inputs(BRAIN)),
    output:
        model=BRAIN_LAYOUT.MODEL,
        history=BRAIN_LAYOUT.HISTORY,
    log:
        log_path("brain_train", "{variant}", "{cohort}", "{run}", "seed{seed}"),
    params:
        model=lambda wc: variant_section("brain", wc, "model"),
        train=lambda wc: variant_section("brain", wc, "train"),
        clip=BRAIN["preprocess"]["clip"],
        device=config["device"],
        checkpoints=BRAIN_LAYOUT.CHECKPOINTS,
        tensorboard=BRAIN_LAYOUT.TENSORBOARD,
    threads: 2
    resources:
        mem_mb=BRAIN["resources"]["train_mem_mb"],
        runtime=BRAIN["resources"]["train_runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("brain_train", "{variant}", "{cohort}", "{run}", "seed{seed}")
    script:
        "../workflow/scripts/brain_train.py"


rule brain_score:
    input:
        model=BRAIN_LAYOUT.MODEL,
        brats=lambda wc: BRAIN_LAYOUT.preprocessed_files(BRAIN, "brats"),
        hcp_val=lambda wc: BRAIN_LAYOUT.train_inputs(BRAIN)["val"],
    output:
        brats=BRAIN_LAYOUT.SCORES_BRATS,
        hcp_val=BRAIN_LAYOUT.SCORES_HCP_VAL,
    log:
        log_path("brain_score", "{variant}", "{cohort}", "{run}", "seed{seed}"),
    params:
        score=BRAIN["score"],
        device=config["device"],
    threads: 2
    resources:
        mem_mb=BRAIN["resources"]["score_mem_mb"],
        runtime=BRAIN["resources"]["score_runtime"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("brain_score", "{variant}", "{cohort}", "{run}", "seed{seed}")
    script:
        "../workflow/scripts/brain_score.py"


rule brain_tables:
    input:
        brats=BRAIN_LAYOUT.score_files(BRAIN, "brats"),
        hcp_val=BRAIN_LAYOUT.score_files(BRAIN, "hcp_val"),
    output:
        table2=report(BRAIN_LAYOUT.TABLE2, caption="../report/table2.rst", category=BRAIN_CATEGORY),
        table3=report(BRAIN_LAYOUT.TABLE3, caption="../report/table3.rst", category=BRAIN_CATEGORY),
        summary=report(BRAIN_LAYOUT.TABLE3_SUMMARY, caption="../report/table3_summary.rst", category=BRAIN_CATEGORY),
    log:
        log_path("brain_tables", "table2_table3"),
    params:
        evaluate={v: variants.apply("brain", BRAIN, v)["evaluate"] for v in BRAIN["variants"]},
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
        brats=BRAIN_LAYOUT.figure_scores(BRAIN),
    output:
        fig2_png=report(BRAIN_LAYOUT.FIG2[0], caption="../report/fig2.rst", category=BRAIN_CATEGORY),
        fig2_pdf=BRAIN_LAYOUT.FIG2[1],
        fig3_png=report(BRAIN_LAYOUT.FIG3[0], caption="../report/fig3.rst", category=BRAIN_CATEGORY),
        fig3_pdf=BRAIN_LAYOUT.FIG3[1],
    log:
        log_path("brain_figures", "fig2_fig3"),
    params:
        n_examples=BRAIN["figures"]["n_examples"],
        clip=BRAIN["preprocess"]["clip"],
    threads: 1
    resources:
        mem_mb=BRAIN["resources"]["score_mem_mb"],
        runtime=30,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/brain_figures.py"
