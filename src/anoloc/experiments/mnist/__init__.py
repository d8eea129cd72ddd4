"""Sample-wise (Fashion)MNIST: leave one class out, KL / Rec / ELBO scores (Zimmerer et al. 2019, spec §2)."""
