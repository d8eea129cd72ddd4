# anoloc — reproducible unsupervised anomaly localisation.
#   snakemake --cores all                                  offline demo (config/config.yaml)
#   snakemake --cores all --configfile config/paper.yaml   full paper reproduction
#   snakemake results/tables/table1.csv                    one table and exactly the jobs it needs
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


validate(config, "config/schema.yaml")

# Rule scripts import the library from this checkout (works with and without `pip install -e .`,
# and inside `--use-conda` environments and SLURM jobs, which re-read this file).
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))

from anoloc.config import apply_schema_defaults

# validate() fills defaults of the top-level schema only; complete every experiment's section too.
apply_schema_defaults(config, os.path.join(workflow.basedir, "config", "schema.yaml"))


include: "rules/common.smk"
include: "rules/mnist.smk"
include: "rules/brain.smk"
include: "rules/cells.smk"
include: "rules/mvtec.smk"
include: "rules/matrix.smk"
include: "rules/claims.smk"


rule all:
    input:
        all_targets(),
    default_target: True


# Every figure of the enabled experiments. Redraw them from the saved scores/tables, without
# retraining: snakemake --cores all figures --forcerun results/figures/*.png
rule figures:
    input:
        [t for t in all_targets() if t.endswith((".png", ".pdf"))],
