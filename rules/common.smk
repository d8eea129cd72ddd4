# Shared by every rules file: the constraint of every wildcard (one table, anoloc.paths.WILDCARDS), the target
# registry behind `rule all`, the log/benchmark path helpers, and the device-dependent GPU request.
from pathlib import Path

from anoloc import paths, variants
from anoloc.paths import benchmark_path, log_path


wildcard_constraints:
    **paths.WILDCARDS,


# Final outputs per experiment; each rules file registers its own, `rule all` asks for the enabled ones.
TARGETS = {}


def register_targets(experiment, files):
    TARGETS[experiment] = list(files)


def all_targets():
    return [f for exp, files in TARGETS.items() if config[exp]["enabled"] for f in files]


# Training and scoring rules ask the cluster for a GPU unless the config pins the CPU.
GPU = 0 if config["device"] == "cpu" else 1


def variant_section(experiment, wildcards, key):
    """`config[experiment][key]` as the code variant of the job runs it (anoloc.variants)."""
    return variants.apply(experiment, config[experiment], wildcards.variant)[key]
