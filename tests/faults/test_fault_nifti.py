"""Fault injection: bad NIfTI volumes and BraTS segmentations, bad subject folder names.

Each bad file is written here (headers patched byte by byte where nibabel refuses to write them) and each test
asserts that the error names the file and says what to do (`brain.data.exclude` or how to repair it).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from anoloc.data.brain import layouts, preprocess
from anoloc.data.brain.preprocess import PreprocessConfig, load_nifti, preprocess_volume
from anoloc.utils import AnolocError

pytestmark = pytest.mark.faults

CFG = PreprocessConfig(spacing_mm=1.0, fov_mm=(32.0, 40.0), slice_offset=2, image_size=16)
SHAPE = (36, 44, 30)


def _brain(shape=SHAPE) -> np.ndarray:
    """An ellipsoid of positive noisy intensities on a zero background."""
    rng = np.random.default_rng(0)
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2
    r = sum(((g - c) / (0.4 * n)) ** 2 for g, c, n in zip(grid, centre, shape, strict=True))
    return np.where(r < 1, 1.0 + rng.random(shape), 0.0).astype(np.float32)


def _save(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))
    return path


def _patch(path: Path, fmt: str, offset: int, value) -> Path:
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(bytes(raw))
    return path


def _assert_names(err: pytest.ExceptionInfo, path: Path, *phrases: str) -> None:
    msg = str(err.value)
    assert str(path) in msg, msg
    for phrase in phrases:
        assert phrase in msg, msg


def test_unknown_datatype_code(tmp_path):
    path = _patch(_save(tmp_path / "t2.nii", _brain()), "<h", 70, 1234)  # `datatype` field of the header
    with pytest.raises(AnolocError, match="not a readable NIfTI volume") as err:
        load_nifti(path)
    _assert_names(err, path, "1234", "brain.data.exclude")


def test_truncated_volume(tmp_path):
    path = _save(tmp_path / "t2.nii.gz", _brain())
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(AnolocError, match="not a readable NIfTI volume") as err:
        load_nifti(path)
    _assert_names(err, path, "copy it again")


def test_nan_affine(tmp_path):
    img = nib.Nifti1Image(_brain(), np.eye(4))
    img.header.set_sform(np.eye(4), code=1)
    img.header.set_qform(None, code=0)
    path = tmp_path / "t2.nii"
    nib.save(img, str(path))
    _patch(path, "<f", 280, float("nan"))  # srow_x[0]; nibabel refuses to write such an affine itself
    assert np.isnan(nib.load(str(path)).affine[0, 0])
    with pytest.raises(AnolocError, match="NaN or infinite") as err:
        preprocess_volume(path, None, CFG)
    _assert_names(err, path, "fslorient", "brain.data.exclude")


def test_absurd_voxel_size_is_refused_before_resampling(tmp_path, monkeypatch):
    path = _save(tmp_path / "t2.nii.gz", _brain(), np.diag([1000.0, 1000.0, 1000.0, 1.0]))  # 1 m voxels

    def no_resampling(*args, **kwargs):
        raise AssertionError("resampling must not start")

    monkeypatch.setattr(preprocess, "_resample", no_resampling)
    with pytest.raises(AnolocError, match="above the limit") as err:
        preprocess_volume(path, None, CFG)
    _assert_names(err, path, "(1000.0, 1000.0, 1000.0) mm", "GB per copy", "spacing_mm", "brain.data.exclude")
    assert preprocess.check_resampled_size(path, SHAPE, np.eye(4), 1.0) == SHAPE  # a sane grid passes


def test_tiny_voxels_leave_no_brain_after_resampling(tmp_path):
    path = _save(tmp_path / "t2.nii.gz", _brain(), np.diag([1e-3, 1e-3, 1e-3, 1.0]))  # 1 µm voxels: 36 µm wide
    with pytest.raises(AnolocError, match=r"no brain voxel is left after resampling to 1\.0 mm") as err:
        preprocess_volume(path, None, CFG)
    _assert_names(err, path, "(0.001, 0.001, 0.001) mm", "brain.data.exclude")


def _seg(tmp_path: Path, values: np.ndarray) -> tuple[Path, Path]:
    """A T2 volume and a segmentation whose 8×8×6 tumour block cycles through `values`."""
    t2 = _save(tmp_path / "case_t2.nii.gz", _brain())
    seg = np.zeros(SHAPE, dtype=values.dtype)
    seg[14:22, 18:26, 12:18] = np.resize(values, (8, 8, 6))
    return t2, _save(tmp_path / "case_seg.nii.gz", seg)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.array([0.25, 0.5, 0.75], dtype=np.float32), "must hold integer labels"),
        (np.array([-1, 2], dtype=np.int16), "must hold integer labels"),
        (np.array([255], dtype=np.uint8), r"unexpected segmentation labels \[255\]"),
        (np.array([1, 2, 4, 7], dtype=np.uint8), r"unexpected segmentation labels \[7\]"),
    ],
    ids=["soft", "negative", "0-255-mask", "label-7"],
)
def test_segmentation_that_is_not_a_brats_label_map(tmp_path, values, match):
    t2, seg = _seg(tmp_path, values)
    with pytest.raises(AnolocError, match=match) as err:
        preprocess_volume(t2, seg, CFG)
    _assert_names(err, seg, "brain.data.exclude")


def test_brats_2023_label_3_is_a_warning_naming_the_file(tmp_path, caplog):
    t2, seg = _seg(tmp_path, np.array([1, 2, 3], dtype=np.uint8))
    with caplog.at_level(logging.WARNING, logger="anoloc.data.brain.preprocess"):
        out = preprocess_volume(t2, seg, CFG)
    assert any(str(seg) in r.getMessage() and "BraTS 2023" in r.getMessage() for r in caplog.records)
    assert out["tumour_voxels"].sum() == 8 * 8 * 6  # every label > 0 counts as whole tumour
    caplog.clear()
    t2, seg = _seg(tmp_path, np.array([1, 2, 4], dtype=np.uint8))
    with caplog.at_level(logging.WARNING, logger="anoloc.data.brain.preprocess"):
        preprocess_volume(t2, seg, CFG)
    assert not caplog.records  # BraTS 2017-2021 labels pass silently


# --------------------------------------------------------------------------------------- folder names
def _hcp(root: Path, subject: str) -> None:
    (root / subject / "T1w").mkdir(parents=True)
    (root / subject / "T1w" / "T2w_acpc_dc_restore_brain.nii.gz").write_bytes(b"")


def test_subject_folder_with_spaces(tmp_path):
    _hcp(tmp_path, "100307")
    _hcp(tmp_path, "sub 02")
    with pytest.raises(AnolocError, match="subject folder name") as err:
        layouts.hcp_subjects(tmp_path)
    _assert_names(err, tmp_path / "sub 02", "'sub 02' → 'sub_02'", "brain.data.exclude", "brain.data.hcp_root")
    assert list(layouts.hcp_subjects(tmp_path, exclude=["sub 02"])) == ["100307"]


def test_brats_case_folder_with_spaces(tmp_path):
    case = tmp_path / "HGG" / "Brats17 case 1"
    case.mkdir(parents=True)
    for kind in ("t2", "seg"):
        (case / f"Brats17 case 1_{kind}.nii.gz").write_bytes(b"")
    with pytest.raises(AnolocError, match="subject folder name") as err:
        layouts.brats_cases(tmp_path)
    _assert_names(err, case, "and the files inside that carry the name", "brain.data.exclude")
