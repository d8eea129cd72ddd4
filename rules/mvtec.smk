# SPADE / PaDiM / PatchCore (Vodenicharski et al. 2022 baselines; spec supn-cells §5.4–§6):
# MVTec archive (download | offline texture stand-in) → extract + validate → score one (class, method) → table5, fig6;
# and the same methods on the prepared cells → results/scores/cells/<method>/seed<seed>.csv (rows of table4).
import os
import re

from anoloc.cells_paths import CELL_SCORES, CELLS_PREPARED
from anoloc.mvtec_paths import (
    FIG6,
    MVTEC_ARCHIVES,
    MVTEC_DATA,
    MVTEC_EXAMPLES,
    MVTEC_LAYOUT,
    MVTEC_METRICS,
    MVTEC_REFERENCE,
    MVTEC_SCORES,
    TABLE5,
    archive_path,
    example_files,
    metrics_files,
    mvtec_targets,
    weights_inputs,
    weights_url,
)

MVTEC = config["mvtec"]
MVTEC_RES = {"mem_mb": 4000, "runtime": 30, "threads": 1} | MVTEC.get("resources", {})
MVTEC_CATEGORY = "Vodenicharski 2022: SPADE / PaDiM / PatchCore"


wildcard_constraints:
    mvtec_class=r"[A-Za-z0-9_]+",
    mvtec_method="spade|padim|patchcore",


register_targets("mvtec", mvtec_targets(MVTEC) if MVTEC["enabled"] else [])


# Downloads need the web: run them on the submitting host, never on compute nodes.
localrules:
    mvtec_download,
    mvtec_weights,


# The rules need the full section (config/schema/mvtec.schema.yaml); `mvtec: {enabled: false}` alone defines none.
if "dataset" in MVTEC:

    rule mvtec_download:
        output:
            archive=MVTEC_ARCHIVES["download"],
        log:
            log_path("mvtec_download", "archive"),
        params:
            dataset=MVTEC["dataset"],
        threads: 1
        resources:
            mem_mb=1000,
            runtime=240,
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow/scripts/mvtec_download.py"

    rule mvtec_generate:
        output:
            archive=MVTEC_ARCHIVES["synthetic"],
        log:
            log_path("mvtec_generate", "archive"),
        params:
            dataset=MVTEC["dataset"],
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow/scripts/mvtec_generate.py"

    rule mvtec_extract:
        input:
            archive=archive_path(MVTEC),
        output:
            data=directory(MVTEC_DATA),
            layout=MVTEC_LAYOUT,
        log:
            log_path("mvtec_extract", "layout"),
        params:
            classes=MVTEC["dataset"]["classes"],
        threads: 1
        resources:
            mem_mb=1000,
            runtime=60,
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow/scripts/mvtec_extract.py"

    rule mvtec_weights:
        output:
            weights="resources/weights/{weights_file}",
        log:
            log_path("mvtec_weights", "{weights_file}"),
        params:
            url=weights_url(MVTEC),
            sha256=MVTEC["backbone"].get("weights_sha256"),
        wildcard_constraints:
            weights_file=r"[\w.-]+\.pth",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow/scripts/mvtec_weights.py"

    rule mvtec_score:
        input:
            layout=MVTEC_LAYOUT,
            weights=weights_inputs(MVTEC),
        output:
            scores=MVTEC_SCORES,
            metrics=MVTEC_METRICS,
            examples=MVTEC_EXAMPLES,
        log:
            log_path("mvtec_score", "{mvtec_class}", "{mvtec_method}"),
        params:
            mvtec=MVTEC,
            device=config["device"],
        wildcard_constraints:
            mvtec_class="|".join(map(re.escape, MVTEC["dataset"]["classes"])),
        threads: MVTEC_RES["threads"]
        resources:
            mem_mb=MVTEC_RES["mem_mb"],
            runtime=MVTEC_RES["runtime"],
            gpu=1 if config["device"] != "cpu" else 0,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("mvtec_score", "{mvtec_class}", "{mvtec_method}")
        script:
            "../workflow/scripts/mvtec_score.py"

    rule mvtec_table:
        input:
            metrics=metrics_files(MVTEC),
            reference=os.path.join(workflow.basedir, MVTEC_REFERENCE),  # in the checkout, not the working dir
        output:
            table=report(TABLE5, caption="../report/table5.rst", category=MVTEC_CATEGORY),
        log:
            log_path("mvtec_table", "table5"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/plot.yaml"
        script:
            "../workflow/scripts/mvtec_table.py"

    rule mvtec_figures:
        input:
            examples=example_files(MVTEC),
        output:
            png=report(FIG6[0], caption="../report/fig6.rst", category=MVTEC_CATEGORY),
            pdf=FIG6[1],
        log:
            log_path("mvtec_figures", "fig6"),
        params:
            methods=MVTEC["methods"],
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/plot.yaml"
        script:
            "../workflow/scripts/mvtec_figures.py"

    rule mvtec_cells_score:
        input:
            cells=CELLS_PREPARED,
            weights=weights_inputs(MVTEC),
        output:
            scores=CELL_SCORES,
        log:
            log_path("mvtec_cells_score", "{cell_method}", "seed{seed}"),
        params:
            mvtec=MVTEC,
            n_train=MVTEC.get("cells", {}).get("n_train", 100),
            device=config["device"],
        wildcard_constraints:
            cell_method="spade|padim|patchcore",
            seed=r"\d+",
        threads: MVTEC_RES["threads"]
        resources:
            mem_mb=MVTEC_RES["mem_mb"],
            runtime=MVTEC_RES["runtime"],
            gpu=1 if config["device"] != "cpu" else 0,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("mvtec_cells_score", "{cell_method}", "seed{seed}")
        script:
            "../workflow/scripts/mvtec_cells_score.py"
