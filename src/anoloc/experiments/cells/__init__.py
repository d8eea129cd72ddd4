"""Fluorescent cells: SUPN / diag / L2 cell VAEs and the kNN methods (Vodenicharski et al. 2022)."""
