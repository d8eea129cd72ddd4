"""Experiment glue (no Snakemake imports): what each workflow step does, as plain functions."""
