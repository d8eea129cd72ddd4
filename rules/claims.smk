# The claims ledger (issue 10): every published claim of both papers checked, with statistics, on the saved score
# files and tables of the enabled experiments → results/tables/claims.csv → results/figures/claims.{png,pdf}.
# No retraining: the inputs are the other experiments' outputs, and only those of the enabled experiments (a claim
# of a disabled one is `not measured`), so `snakemake results/tables/claims.csv` builds exactly what it needs.
from anoloc.experiments.claims import layout as CLAIMS_LAYOUT

CLAIMS = config["claims"]
CLAIMS_CATEGORY = "Claims ledger (both papers)"

register_targets("claims", CLAIMS_LAYOUT.targets(CLAIMS))


rule claims_tables:
    input:
        **CLAIMS_LAYOUT.inputs(config),
    output:
        table=report(CLAIMS_LAYOUT.TABLE, caption="../report/claims.rst", category=CLAIMS_CATEGORY),
    log:
        log_path("claims_tables", "claims"),
    params:
        context=CLAIMS_LAYOUT.context(config),
        claims={k: CLAIMS[k] for k in ("n_resamples", "seed", "mvtec_reference")},
    threads: 1
    resources:
        mem_mb=CLAIMS["resources"]["mem_mb"],
        runtime=CLAIMS["resources"]["runtime"],
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/claims_tables.py"


rule claims_figures:
    input:
        table=CLAIMS_LAYOUT.TABLE,
    output:
        figures=[report(f, caption="../report/claims.rst", category=CLAIMS_CATEGORY) for f in CLAIMS_LAYOUT.FIGURE],
    log:
        log_path("claims_figures", "claims"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/plot.yaml"
    script:
        "../workflow/scripts/claims_figures.py"
