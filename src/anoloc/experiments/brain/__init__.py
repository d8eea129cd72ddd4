"""Pixel-wise brain MRI: healthy HCP → BraTS tumours, five pixel scores, Dice calibration (Zimmerer et al. 2019)."""
