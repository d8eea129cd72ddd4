"""MVTec AD: SPADE, PaDiM and PatchCore, checked against their published numbers (Vodenicharski et al. 2022)."""
