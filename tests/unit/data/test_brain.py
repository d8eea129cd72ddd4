"""Brain data: folder layouts, preprocessing invariants, orientation, corrupt files, synthetic cohort, augmentation."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import torch
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform
from scipy import ndimage as ndi

from anoloc.data.brain.augment import BrainAugment
from anoloc.data.brain.layouts import brats_cases, hcp_subjects
from anoloc.data.brain.preprocess import PreprocessConfig, load_slices, preprocess_volume, save_subject
from anoloc.data.brain.synthetic import write_nifti
from anoloc.utils import AnolocError


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


# ------------------------------------------------------------------------------------------- layouts
def test_hcp_layout(tmp_path):
    for s in ("100307", "100408"):
        _touch(tmp_path / s / "T1w" / "T2w_acpc_dc_restore_brain.nii.gz")
    (tmp_path / "release-notes").mkdir()  # folders without T1w/ are ignored
    found = hcp_subjects(tmp_path)
    assert list(found) == ["100307", "100408"]
    assert found["100307"] == tmp_path / "100307" / "T1w" / "T2w_acpc_dc_restore_brain.nii.gz"
    (tmp_path / "101915" / "T1w").mkdir(parents=True)  # T1w/ but no T2 → error naming it
    with pytest.raises(AnolocError, match=r"101915.*brain\.data\.exclude.*db\.humanconnectome\.org"):
        hcp_subjects(tmp_path)
    assert list(hcp_subjects(tmp_path, exclude=["101915", "100408"])) == ["100307"]


def test_hcp_layout_missing_root_names_path_layout_and_source(tmp_path):
    with pytest.raises(AnolocError) as err:
        hcp_subjects(tmp_path / "nope")
    msg = str(err.value)
    assert str(tmp_path / "nope") in msg and "T1w/T2w_acpc_dc_restore_brain.nii.gz" in msg and "ConnectomeDB" in msg
    with pytest.raises(AnolocError, match="not set"):
        hcp_subjects(None)
    with pytest.raises(AnolocError, match="no HCP subject"):
        hcp_subjects(tmp_path)


@pytest.mark.parametrize("graded", [True, False])
def test_brats_layouts(tmp_path, graded):
    cases = {"Brats17_2013_2_1": "HGG", "Brats17_TCIA_101_1": "LGG"}
    for case, grade in cases.items():
        folder = tmp_path / grade / case if graded else tmp_path / case
        for mod in ("t1", "t2", "seg"):
            _touch(folder / f"{case}_{mod}.nii.gz")
    found = brats_cases(tmp_path)
    assert sorted(found) == sorted(cases)
    for case, grade in cases.items():
        assert found[case].grade == (grade if graded else None)
        assert found[case].t2.name == f"{case}_t2.nii.gz" and found[case].seg.name == f"{case}_seg.nii.gz"


def test_brats_layout_errors(tmp_path):
    with pytest.raises(AnolocError, match=r"does not exist.*HGG/<case>/<case>_t2\.nii\.gz.*ipp\.cbica"):
        brats_cases(tmp_path / "missing")
    _touch(tmp_path / "HGG" / "Brats17_X_1" / "Brats17_X_1_t2.nii.gz")
    with pytest.raises(AnolocError, match=r"Brats17_X_1_seg\.nii\.gz"):
        brats_cases(tmp_path)
    with pytest.raises(AnolocError, match="no BraTS case"):
        brats_cases(tmp_path, exclude=["Brats17_X_1"])


# ------------------------------------------------------------------------------------- preprocessing
def _phantom(shape=(30, 36, 28)):
    """An asymmetric 'brain' (RAS voxel order): ellipsoid, a bright block anterior-left-superior, a tumour block."""
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    brain = (x / 0.8) ** 2 + (y / 0.85) ** 2 + (z / 0.8) ** 2 < 1
    vol = np.where(brain, 100.0 + 20 * x + 10 * y + 5 * z, 0.0).astype(np.float32)
    vol[8:12, 22:26, 16:19] = 400.0  # left (low x), anterior (high y), superior (high z)
    seg = np.zeros(shape, np.uint8)
    seg[18:22, 10:14, 12:16] = 2  # right-posterior tumour, 16 voxels per axial slice
    seg[19:21, 11:13, 13:15] = 4
    return vol * brain, seg * brain


RAS_AFFINE = np.diag([2.0, 2.0, 2.0, 1.0]) + np.c_[np.zeros((4, 3)), [-30, -36, -28, 0]]


def _reoriented(data, affine, codes):
    t = ornt_transform(axcodes2ornt("RAS"), axcodes2ornt(codes))
    return apply_orientation(data, t), affine @ inv_ornt_aff(t, data.shape)


def test_both_orientations_give_identical_slices(tmp_path):
    vol, seg = _phantom()
    write_nifti(vol, RAS_AFFINE, tmp_path / "ras_t2.nii.gz")
    write_nifti(seg, RAS_AFFINE, tmp_path / "ras_seg.nii.gz")
    v2, a2 = _reoriented(vol, RAS_AFFINE, ("P", "I", "L"))  # permuted and flipped axes, same world content
    s2, _ = _reoriented(seg, RAS_AFFINE, ("P", "I", "L"))
    assert v2.shape == (36, 28, 30) and nib.aff2axcodes(a2) == ("P", "I", "L")
    write_nifti(v2, a2, tmp_path / "pil_t2.nii.gz")
    write_nifti(s2, a2, tmp_path / "pil_seg.nii.gz")
    cfg = PreprocessConfig(spacing_mm=2.0, fov_mm=(64.0, 64.0), slice_offset=2, image_size=32, clip=10.0)
    a = preprocess_volume(tmp_path / "ras_t2.nii.gz", tmp_path / "ras_seg.nii.gz", cfg)
    b = preprocess_volume(tmp_path / "pil_t2.nii.gz", tmp_path / "pil_seg.nii.gz", cfg)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-5, err_msg=k)
    # anatomical orientation of the slices: anterior at the top rows, patient left on the left columns
    marker = a["image"] > 3.0
    zs, rows, cols = np.nonzero(marker)
    assert rows.mean() < 16 and cols.mean() < 16 and zs.mean() > len(a["image"]) / 2
    _, tr, tc = np.nonzero(a["label"])
    assert tr.mean() > 16 and tc.mean() > 16  # tumour: posterior (bottom), right (right columns)


def test_other_spacing_and_orientation_agree(tmp_path):
    """The same analytic object sampled on a 1.5 mm LPS grid and a 2 mm RAS grid preprocesses alike."""

    def sample(affine, shape):
        ijk = np.indices(shape).reshape(3, -1)
        xyz = affine[:3, :3] @ ijk + affine[:3, 3:]
        x, y, z = xyz / 26.0
        inside = x**2 / 0.8 + y**2 + z**2 / 0.8 < 1
        val = 100 + 40 * np.tanh(3 * (x + 0.3 * y)) + 30 * np.exp(-(((z - 0.3) / 0.2) ** 2))
        return np.where(inside, val, 0).reshape(shape).astype(np.float32)

    a_ras = np.diag([2.0, 2.0, 2.0, 1.0])
    a_ras[:3, 3] = -31
    a_lps = np.diag([-1.5, -1.5, 1.5, 1.0])
    a_lps[:3, 3] = [31, 31, -31]
    write_nifti(sample(a_ras, (32, 32, 32)), a_ras, tmp_path / "a.nii.gz")
    write_nifti(sample(a_lps, (42, 42, 42)), a_lps, tmp_path / "b.nii.gz")
    cfg = PreprocessConfig(spacing_mm=2.0, fov_mm=(64.0, 64.0), slice_offset=3, image_size=32, clip=10.0)
    a = preprocess_volume(tmp_path / "a.nii.gz", None, cfg)["image"]
    b = preprocess_volume(tmp_path / "b.nii.gz", None, cfg)["image"]
    assert abs(len(a) - len(b)) <= 1
    # the brain's axial extent may start one slice apart on the two grids: compare at the best of ±1 slice

    def corr(shift):
        aa, bb = a[max(shift, 0) :], b[max(-shift, 0) :]
        n = min(len(aa), len(bb))
        return np.corrcoef(aa[:n].ravel(), bb[:n].ravel())[0, 1]

    assert max(corr(s) for s in (-1, 0, 1)) > 0.95


def test_preprocessing_invariants(tmp_path):
    vol, seg = _phantom()
    write_nifti(vol, RAS_AFFINE, tmp_path / "t2.nii.gz")
    write_nifti(seg, RAS_AFFINE, tmp_path / "seg.nii.gz")
    # no resize (64 mm / 2 mm = 32 px), no offset, no effective clip: z-scored brain voxels
    cfg = PreprocessConfig(spacing_mm=2.0, fov_mm=(64.0, 64.0), slice_offset=0, image_size=32, clip=100.0)
    out = preprocess_volume(tmp_path / "t2.nii.gz", tmp_path / "seg.nii.gz", cfg)
    brain_z = np.flatnonzero((vol != 0).any(axis=(0, 1)))
    assert len(out["image"]) == len(brain_z) and out["image"].shape[1:] == (32, 32)
    np.testing.assert_array_equal(out["slice_index"], brain_z)
    vals = out["image"][out["brain_mask"]]
    assert vals.size == np.count_nonzero(vol)
    assert abs(vals.mean()) < 1e-4 and vals.std() == pytest.approx(1.0, abs=1e-3)
    assert np.all(out["image"][~out["brain_mask"]] == 0)
    np.testing.assert_array_equal(out["tumour_voxels"], (seg > 0).sum(axis=(0, 1))[brain_z])
    assert out["label"].sum() == np.count_nonzero(seg)
    # with resizing, offset and clipping
    cfg = PreprocessConfig(spacing_mm=2.0, fov_mm=(80.0, 90.0), slice_offset=4, image_size=16, clip=1.5)
    out = preprocess_volume(tmp_path / "t2.nii.gz", tmp_path / "seg.nii.gz", cfg)
    assert out["image"].shape == (len(brain_z) - 8, 16, 16) and out["image"].dtype == np.float32
    assert out["image"].min() >= -1.5 and out["image"].max() <= 1.5
    outside = ~np.stack([ndi.binary_dilation(m, iterations=1) for m in out["brain_mask"]])
    assert np.all(out["image"][outside] == 0)
    assert not np.any(out["label"] & outside)
    assert np.all(out["tumour_voxels"][out["label"].any(axis=(1, 2))] > 0)
    save_subject(out, tmp_path / "s.npz", subject="case1", dataset="brats")
    both = load_slices([tmp_path / "s.npz", tmp_path / "s.npz"])
    assert len(both) == 2 * len(out["image"]) and list(both.subject[:1]) == ["case1"]


def test_corrupt_missing_and_mismatched_files(tmp_path):
    vol, seg = _phantom()
    good = tmp_path / "t2.nii.gz"
    write_nifti(vol, RAS_AFFINE, good)
    cfg = PreprocessConfig(spacing_mm=2.0, fov_mm=(64.0, 64.0), slice_offset=2, image_size=32)
    truncated = tmp_path / "truncated_t2.nii.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage_t2.nii.gz"
    garbage.write_bytes(gzip.compress(b"not a nifti header at all" * 20))
    for bad in (truncated, garbage):
        with pytest.raises(AnolocError, match=rf"{bad.name}.*corrupt or truncated"):
            preprocess_volume(bad, None, cfg)
    with pytest.raises(AnolocError, match="does not exist"):
        preprocess_volume(tmp_path / "absent.nii.gz", None, cfg)
    write_nifti(seg[:, :, :20], RAS_AFFINE, tmp_path / "seg.nii.gz")
    with pytest.raises(AnolocError, match="does not match the T2 volume"):
        preprocess_volume(good, tmp_path / "seg.nii.gz", cfg)
    write_nifti(np.zeros((10, 10, 10), np.float32), RAS_AFFINE, tmp_path / "empty.nii.gz")
    with pytest.raises(AnolocError, match="non-zero"):
        preprocess_volume(tmp_path / "empty.nii.gz", None, cfg)
    with pytest.raises(AnolocError, match="slice_offset"):
        preprocess_volume(good, None, PreprocessConfig(spacing_mm=2.0, slice_offset=20))


# ---------------------------------------------------------------------------------------- augmentation
def test_augmentation_identity_flip_and_per_sample():
    x = torch.randn(6, 1, 16, 16).clamp(-1.5, 1.5)
    ident = BrainAugment(
        flip_p=0, rotation=0, scale_down=(1, 1), scale_up=(1, 1), brightness=(1, 1), noise_std=0, noise_after_clip=0
    )
    torch.testing.assert_close(ident.augment(x), x, atol=1e-5, rtol=0)
    flip = BrainAugment(
        flip_p=1, rotation=0, scale_down=(1, 1), scale_up=(1, 1), brightness=(1, 1), noise_std=0, noise_after_clip=0
    )
    torch.testing.assert_close(flip.augment(x), x.flip(-1), atol=1e-5, rtol=0)
    aug = BrainAugment()
    same = x[:1].expand(6, 1, 16, 16).contiguous()
    torch.manual_seed(0)
    out = aug((same, torch.arange(6)))
    assert out[0].shape == same.shape and torch.equal(out[1], torch.arange(6))
    assert all(not torch.allclose(out[0][0], out[0][i]) for i in range(1, 6))  # one transform per sample
    torch.manual_seed(0)
    torch.testing.assert_close(aug((same,))[0], out[0])  # reproducible from torch's RNG
    no_late_noise = BrainAugment(noise_after_clip=0.0)
    assert no_late_noise.augment(x * 10).abs().max() <= 1.5 + 1e-6
