"""Folder layouts of the brain datasets: find the subjects, validate, explain what is wrong.

Pure pathlib (no NumPy, no NIfTI reading): the Snakemake rules call this at parse time, so a missing or
malformed folder stops the run before any job starts. Every error names the path, the expected layout
and where the data is obtained.

- HCP (healthy, training): `<hcp_root>/<subject>/T1w/T2w_acpc_dc_restore_brain.nii.gz`
- BraTS 2017 (tumours, test): `<brats_root>/{HGG,LGG}/<case>/<case>_t2.nii.gz` and `<case>_seg.nii.gz`;
  the flat BraTS 2018–2021 layout `<brats_root>/<case>/<case>_t2.nii.gz` (+ `_seg`) is accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from anoloc.utils import AnolocError, PathLike

HCP_T2 = ("T1w", "T2w_acpc_dc_restore_brain.nii.gz")
# subject / case names become parts of output paths and Snakemake wildcards (rules/brain.smk `brain_subject`)
SUBJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
BRATS_GRADES = ("HGG", "LGG")
NIFTI_SUFFIXES = (".nii.gz", ".nii")

HCP_HELP = (
    "Expected layout: <hcp_root>/<subject>/T1w/T2w_acpc_dc_restore_brain.nii.gz (the skull-stripped T2w of the "
    "HCP 'Structural Preprocessed' package, e.g. of the S1200 release). HCP data is obtained from ConnectomeDB "
    "(https://db.humanconnectome.org) after accepting the HCP Open Access Data Use Terms; it cannot be "
    "downloaded by this workflow."
)
BRATS_HELP = (
    "Expected layout: <brats_root>/HGG/<case>/<case>_t2.nii.gz and <case>_seg.nii.gz (likewise LGG/), as in "
    "the BraTS 2017 training data (MICCAI_BraTS17_Data_Training), or the flat BraTS 2018-2021 layout "
    "<brats_root>/<case>/<case>_t2.nii.gz. BraTS is obtained after registration from the BraTS challenge site "
    "(https://www.med.upenn.edu/sbia/brats2017.html; data access through CBICA's Image Processing Portal, "
    "https://ipp.cbica.upenn.edu); it cannot be downloaded by this workflow."
)


@dataclass(frozen=True)
class BratsCase:
    case: str
    t2: Path
    seg: Path
    grade: str | None  # HGG / LGG, or None in the flat layout


def find_nifti(folder: Path, stem: str) -> Path | None:
    """`folder/stem.nii.gz` or `folder/stem.nii`, whichever exists."""
    for suffix in NIFTI_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def hcp_t2_path(root: PathLike, subject: str) -> Path:
    """Where the HCP layout keeps the T2 volume of `subject`."""
    return Path(root, subject, *HCP_T2)


def brats_case_paths(root: PathLike, case: str, grade: str | None) -> tuple[Path, Path]:
    """(t2, seg) paths of `case` in the BraTS 2017 layout (`grade` HGG/LGG) or the flat layout (`grade=None`)."""
    folder = Path(root, grade, case) if grade else Path(root, case)
    return folder / f"{case}_t2.nii.gz", folder / f"{case}_seg.nii.gz"


def _check_root(root: PathLike | None, key: str, help_text: str) -> Path:
    if not root:
        raise AnolocError(f"config key {key} is not set: point it to your copy of the data. {help_text}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise AnolocError(f"{key}: folder {path} does not exist (or is not a folder). {help_text}")
    return path


def _exclude_hint(key: str, names: list[str]) -> str:
    shown = ", ".join(names[:10]) + (f", … ({len(names)} in all)" if len(names) > 10 else "")
    return f"Fix or remove them, or leave them out with `{key}: [{shown}]` in the config"


def _check_names(key: str, root: Path, folders: list[Path], files_named_after_it: bool) -> None:
    """Subject folders whose names cannot be used in output paths (spaces, other symbols) are an error."""
    bad = [f for f in folders if not SUBJECT_NAME.fullmatch(f.name)]
    if not bad:
        return
    also = " and the files inside that carry the name" if files_named_after_it else ""
    raise AnolocError(
        f"{key} = {root}: {len(bad)} subject folder name(s) contain characters other than letters, digits, "
        f"'_', '.' and '-' (not first), e.g. spaces: {', '.join(repr(str(f)) for f in bad[:5])}. These names "
        f"become parts of output paths and workflow wildcards. Rename the folder(s){also} (e.g. "
        f"{bad[0].name!r} → {re.sub(r'[^A-Za-z0-9_.-]+', '_', bad[0].name).strip('_.-') or 'subject'!r}), or "
        f"leave them out with `brain.data.exclude`."
    )


def hcp_subjects(
    root: PathLike | None, exclude: Iterable[str] = (), key: str = "brain.data.hcp_root"
) -> dict[str, Path]:
    """{subject: T2 path} of every subject folder that has a `T1w/` folder (as the released preprocessing).

    Folders without `T1w/` are ignored; a subject with `T1w/` but no T2 file is an error (or list it in
    `exclude`).
    """
    path = _check_root(root, key, HCP_HELP)
    exclude = set(exclude)
    found: dict[str, Path] = {}
    incomplete: list[str] = []
    folders = [p for p in sorted(path.iterdir()) if p.is_dir() and p.name not in exclude and (p / HCP_T2[0]).is_dir()]
    _check_names(key, path, folders, files_named_after_it=False)
    for folder in folders:
        t2 = find_nifti(folder / HCP_T2[0], HCP_T2[1].removesuffix(".nii.gz"))
        if t2 is None:
            incomplete.append(folder.name)
        else:
            found[folder.name] = t2
    if incomplete:
        raise AnolocError(
            f"{key} = {path}: {len(incomplete)} subject folder(s) have T1w/ but no {HCP_T2[1]}: "
            f"{', '.join(incomplete[:10])}. {_exclude_hint('brain.data.exclude', incomplete)}. {HCP_HELP}"
        )
    if not found:
        raise AnolocError(f"{key} = {path}: no HCP subject found (no <subject>/T1w/ folder). {HCP_HELP}")
    return found


def brats_cases(
    root: PathLike | None, exclude: Iterable[str] = (), key: str = "brain.data.brats_root"
) -> dict[str, BratsCase]:
    """{case: BratsCase} of every case folder (BraTS 2017 HGG/LGG layout, or flat) that holds NIfTI files."""
    path = _check_root(root, key, BRATS_HELP)
    exclude = set(exclude)
    graded = [g for g in BRATS_GRADES if (path / g).is_dir()]
    parents = [(path / g, g) for g in graded] if graded else [(path, None)]
    found: dict[str, BratsCase] = {}
    incomplete: list[str] = []
    for parent, grade in parents:
        folders = [
            p
            for p in sorted(parent.iterdir())
            if p.is_dir() and p.name not in exclude and any(f.name.endswith(NIFTI_SUFFIXES) for f in p.iterdir())
        ]
        _check_names(key, path, folders, files_named_after_it=True)
        for folder in folders:
            case = folder.name
            if case in found:
                raise AnolocError(f"{key} = {path}: case {case} appears twice (in HGG and LGG?). {BRATS_HELP}")
            t2, seg = find_nifti(folder, f"{case}_t2"), find_nifti(folder, f"{case}_seg")
            if t2 is None or seg is None:
                missing = [n for n, p in ((f"{case}_t2.nii.gz", t2), (f"{case}_seg.nii.gz", seg)) if p is None]
                incomplete.append(f"{folder} (missing {' and '.join(missing)})")
            else:
                found[case] = BratsCase(case, t2, seg, grade)
    if incomplete:
        names = [Path(s.split(" (")[0]).name for s in incomplete]
        raise AnolocError(
            f"{key} = {path}: {len(incomplete)} case folder(s) lack the T2 or segmentation file: "
            f"{'; '.join(incomplete[:5])}. {_exclude_hint('brain.data.exclude', names)}. {BRATS_HELP}"
        )
    if not found:
        raise AnolocError(f"{key} = {path}: no BraTS case folder with NIfTI files found. {BRATS_HELP}")
    return found


def synthetic_hcp_ids(n: int) -> list[str]:
    """Subject ids of the synthetic HCP-like cohort (follow from the config alone)."""
    return [f"synhcp{i:03d}" for i in range(int(n))]


def synthetic_brats_cases(n: int) -> list[tuple[str, str]]:
    """(case, grade) of the synthetic BraTS-like cohort: BraTS 2017 naming, every 4th case low grade."""
    return [(f"Brats17_SYN_{i:03d}_1", "LGG" if i % 4 == 3 else "HGG") for i in range(int(n))]
