# SPADE / PaDiM / PatchCore (Vodenicharski et al. 2022 baselines; spec supn-cells §5.4–§6): MVTec archive
# (download | offline texture stand-in) → extract + validate → score one (category, method) → tables (table5)
# → figures (fig6). The same methods on the cells are rules of rules/cells.smk (`mvtec.cells`).
import os

from anoloc.experiments.mvtec import layout as MVTEC_LAYOUT

MVTEC = config["mvtec"]
MVTEC_CATEGORY = "Vodenicharski 2022: SPADE / PaDiM / PatchCore"

register_targets("mvtec", MVTEC_LAYOUT.targets(MVTEC))


# Downloads need the web: run them on the submitting host, never on compute nodes.
localrules:
    mvtec_download,
    mvtec_weights,


# `mvtec: {enabled: false}` alone (no dataset section) defines no rule; every other key has a schema default.
if "dataset" in MVTEC:

    rule mvtec_download:
        output:
            archive=MVTEC_LAYOUT.ARCHIVES["download"],
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
            archive=MVTEC_LAYOUT.ARCHIVES["synthetic"],
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
            archive=MVTEC_LAYOUT.archive_path(MVTEC),
        output:
            data=directory(MVTEC_LAYOUT.DATA),
            layout=MVTEC_LAYOUT.LAYOUT_JSON,
        log:
            log_path("mvtec_extract", "layout"),
        params:
            classes=MVTEC["dataset"]["classes"],
            # a downloaded archive (or one placed by hand) is verified again before it is unpacked
            sha256=MVTEC["dataset"]["sha256"] if MVTEC["dataset"]["source"] == "download" else None,
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
            weights=MVTEC_LAYOUT.WEIGHTS,
        log:
            log_path("mvtec_weights", "{weights_file}"),
        params:
            url=MVTEC_LAYOUT.weights_url(MVTEC),
            sha256=MVTEC["backbone"]["weights_sha256"],
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
            layout=MVTEC_LAYOUT.LAYOUT_JSON,
            weights=MVTEC_LAYOUT.weights_inputs(MVTEC),
        output:
            scores=MVTEC_LAYOUT.SCORES,
            metrics=MVTEC_LAYOUT.METRICS,
            panels=MVTEC_LAYOUT.PANELS,
            maps=MVTEC_LAYOUT.MAPS,
        log:
            log_path("mvtec_score", "{category}", "{knn_method}"),
        params:
            knn=lambda wc: MVTEC_LAYOUT.knn_section(MVTEC, wc.knn_method),
            seed=MVTEC["seed"],
            aupro=MVTEC["aupro"],
            n_examples=MVTEC["figure"]["n_examples"],
            device=config["device"],
        wildcard_constraints:
            category=MVTEC_LAYOUT.category_pattern(MVTEC),
        threads: MVTEC["resources"]["threads"]
        resources:
            mem_mb=MVTEC["resources"]["mem_mb"],
            runtime=MVTEC["resources"]["runtime"],
            gpu=GPU,
        conda:
            "../envs/torch.yaml"
        benchmark:
            benchmark_path("mvtec_score", "{category}", "{knn_method}")
        script:
            "../workflow/scripts/mvtec_score.py"

    rule mvtec_tables:
        input:
            metrics=MVTEC_LAYOUT.metrics_files(MVTEC),
            reference=os.path.join(workflow.basedir, MVTEC_LAYOUT.REFERENCE),  # in the checkout, not the working dir
        output:
            table=report(MVTEC_LAYOUT.TABLE5, caption="../report/table5.rst", category=MVTEC_CATEGORY),
        log:
            log_path("mvtec_tables", "table5"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/plot.yaml"
        script:
            "../workflow/scripts/mvtec_tables.py"

    rule mvtec_figures:
        input:
            panels=MVTEC_LAYOUT.panel_files(MVTEC),
        output:
            png=report(MVTEC_LAYOUT.FIG6[0], caption="../report/fig6.rst", category=MVTEC_CATEGORY),
            pdf=MVTEC_LAYOUT.FIG6[1],
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
