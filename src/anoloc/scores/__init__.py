"""Anomaly scores (higher = more anomalous).

- `names`: the torch-free names of every score and method, and their display labels (used by rules, tables, plots);
- `vae`: KL / Rec / ELBO of the Gaussian VAEs and their input gradients (Zimmerer et al. 2019);
- `cells`: cell-level Mahalanobis scores of the SUPN / diag / L2 cell VAEs (Vodenicharski et al. 2022).

Importing this package imports neither torch nor a submodule.
"""
