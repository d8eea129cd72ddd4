"""anoloc: reproducible unsupervised anomaly localisation (VAE KL-gradients and SUPN cells)."""

__version__ = "0.1.0"
