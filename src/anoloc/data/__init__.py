"""Datasets: sources, preparation, validation and loaders."""
