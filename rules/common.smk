# Shared helpers: target registry, wildcard constraints, input functions and small config readers.
from pathlib import Path


wildcard_constraints:
    dataset="mnist|fashion_mnist",
    held_out="[0-9]",
    mnist_run=r"z\d+_logc-?\d+(\.\d+)?_s\d+_seed\d+",


# Final outputs per experiment; each rules file registers its own, `rule all` asks for the enabled ones.
TARGETS = {}


def register_targets(experiment, paths):
    TARGETS[experiment] = list(paths)


def all_targets():
    return [p for exp, paths in TARGETS.items() if config[exp]["enabled"] for p in paths]


def log_path(rule_name, *parts):
    """results/logs/<rule>/<parts>.log"""
    return str(Path("results/logs", rule_name, *parts)) + ".log"


def benchmark_path(rule_name, *parts):
    """results/benchmarks/<rule>/<parts>.tsv"""
    return str(Path("results/benchmarks", rule_name, *parts)) + ".tsv"
