"""Brain MRI data of the pixel-wise experiment: HCP (healthy, training) and BraTS (tumours, test).

- `layouts`: find and validate the users' HCP / BraTS folders (pure pathlib, imported at parse time);
- `preprocess`: NIfTI → canonical orientation, common spacing, z-score, axial slices, resize, clip → .npz;
- `synthetic`: the offline demo cohort, written as NIfTI files in exactly the HCP / BraTS layouts;
- `augment`: vectorised per-sample training augmentation (a `TensorBatches` transform).

This package's `__init__` imports nothing heavy, so `layouts` stays cheap to import.
"""
