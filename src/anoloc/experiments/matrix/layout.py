"""Layout of the method × dataset matrix: its jobs' paths, where every cell's scores come from, targets (torch-free).

A *source* is one (method, dataset, subset, seed) with the score file(s) it is read from and the Snakemake
benchmark files of the jobs that produced it. Cells that coincide with a paper experiment point at that
experiment's own files (its layout's templates, code variant `corrected`): requesting them runs the experiment's
own rules, so the matrix never copies a job. New cells are matrix jobs:

- `results/matrix/scores/<dataset>/<subset>/<method>/seed<s>.npz` — a kNN method or a baseline, fitted on the
  subset's normal training images and scoring its test images in one job (`matrix_score`);
- `results/matrix/models/<dataset>/<subset>/conv_vae/seed<s>/` (+ checkpoints, tensorboard) — the brain's conv
  VAE trained on another dataset (`matrix_train_vae`), scored into `results/matrix/scores/<dataset>/<subset>/
  conv_vae/seed<s>.npz` (`matrix_score_vae`; one file holds all eight VAE scores).

Subsets: `class<k>` (the held-out class of (Fashion)MNIST), an MVTec category, or `all` (brain, cells).
Seeds: a paper cell has its experiment's seeds (`mnist.seeds`, `brain.seeds`, `cells.seeds`, `mvtec.cells.seeds`,
`mvtec.seed`); a matrix job the matrix's `seeds` (the deterministic baselines only the first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from anoloc import paths, variants
from anoloc.data.brain.cohort import cohort
from anoloc.experiments.brain import layout as brain_layout
from anoloc.experiments.cells import layout as cells_layout
from anoloc.experiments.matrix import catalogue
from anoloc.experiments.mnist import layout as mnist_layout
from anoloc.experiments.mvtec import layout as mvtec_layout
from anoloc.paths import benchmark_path
from anoloc.scores.names import (
    KNN_METHODS,
    MATRIX_DATASETS,
    MATRIX_JOBS,
    PIXEL_SCORES,
    SAMPLE_SCORES,
    cell_stage_of,
)
from anoloc.utils import AnolocError

EXPERIMENT = "matrix"
VARIANT = "corrected"  # the code variant of the paper experiments the matrix reads
VAE = "conv_vae"

_JOB = "{matrix_dataset}/{subset}/{matrix_method}/seed{seed}"
SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_JOB}.npz"
_VAE_RUN = "{matrix_dataset}/{subset}/" + VAE + "/seed{seed}"
VAE_MODEL = f"{paths.result_dir(EXPERIMENT, 'models')}/{_VAE_RUN}/model.pt"
VAE_HISTORY = f"{paths.result_dir(EXPERIMENT, 'models')}/{_VAE_RUN}/history.csv"
VAE_CHECKPOINTS = f"{paths.result_dir(EXPERIMENT, 'checkpoints')}/{_VAE_RUN}"
VAE_TENSORBOARD = f"{paths.result_dir(EXPERIMENT, 'tensorboard')}/{_VAE_RUN}"
VAE_SCORES = f"{paths.result_dir(EXPERIMENT, 'scores')}/{_VAE_RUN}.npz"

TABLE = paths.table("matrix")
SUMMARY = paths.table("matrix_summary")
FIG7 = paths.figure("fig7")
FIG7_RANKS = paths.figure("fig7_ranks")


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Final outputs: the matrix table, its summary, fig7 and fig7_ranks."""
    return [TABLE, SUMMARY, *FIG7, *FIG7_RANKS]


# ------------------------------------------------------------------------------------------ the plan
def datasets(config: Mapping[str, Any]) -> list[str]:
    """The configured matrix datasets, in `MATRIX_DATASETS` order."""
    return [d for d in MATRIX_DATASETS if d in config["matrix"]["datasets"]]


def methods(config: Mapping[str, Any]) -> list[str]:
    """The configured matrix methods, in catalogue order."""
    chosen = set(config["matrix"]["methods"])
    return [m for m in catalogue.METHODS if m in chosen]


def held_out_classes(config: Mapping[str, Any], dataset: str) -> list[int]:
    """Held-out classes of a (Fashion)MNIST matrix dataset (default: the mnist experiment's)."""
    own = config["matrix"]["datasets"][dataset]["held_out_classes"]
    return [int(k) for k in (own if own is not None else config["mnist"]["held_out_classes"])]


def subsets(config: Mapping[str, Any], dataset: str) -> list[str]:
    """`class<k>` per held-out class, the MVTec categories, or `all`."""
    kind = catalogue.DATASETS[dataset].subsets
    if kind == "held_out_class":
        return [f"class{k}" for k in held_out_classes(config, dataset)]
    if kind == "category":
        return list(config["mvtec"]["dataset"]["classes"])
    return ["all"]


def held_out_of(subset: str) -> int:
    """The held-out class of a (Fashion)MNIST subset `class<k>`."""
    if not (subset.startswith("class") and subset[5:].isdigit()):
        raise AnolocError(f"not a held-out class subset: {subset!r} (expected class0 … class9)")
    return int(subset[5:])


@dataclass(frozen=True)
class Source:
    """Where one (method, dataset, subset, seed) of the matrix is read from.

    `reader`: the file format (mnist | brain | cells | mvtec | matrix); `files`: the score file(s); `image_key` /
    `pixel_key`: the column or array of the method's image score / map ('' = none); `fit` / `score`: benchmark
    files of the training and scoring jobs; `adapter`: what the cell ran; `kind`: paper | matrix.
    """

    method: str
    dataset: str
    subset: str
    seed: int
    kind: str
    reader: str
    files: tuple[str, ...]
    image_key: str
    pixel_key: str
    fit: tuple[str, ...]
    score: tuple[str, ...]
    adapter: str

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Source:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _keys(method: str, reader: str) -> tuple[str, str]:
    """(image key, pixel key) of `method` in a score file of format `reader`."""
    spec = catalogue.METHODS[method]
    if reader == "matrix":
        return (f"score__{method}" if spec.image else "", f"map__{method}" if spec.pixel else "")
    score = method.removeprefix("vae_")
    if reader == "mnist":
        return score, ""
    if reader == "brain":
        return (f"slice_{score}" if score in SAMPLE_SCORES else "", score if score in PIXEL_SCORES else "")
    if reader == "mvtec":
        return "score", "map"
    return "score", ""  # cells


def _paper_sources(config: Mapping[str, Any], method: str, dataset: str, subset: str) -> list[Source]:
    """The paper experiment's files of one (method, dataset, subset), one source per seed of that experiment."""
    spec, out = catalogue.METHODS[method], []
    adapter = catalogue.describe(method, dataset, config)

    def add(reader: str, seed: int, files: list[str], fit: list[str], score: list[str]) -> None:
        image_key, pixel_key = _keys(method, reader)
        out.append(
            Source(method, dataset, subset, int(seed), "paper", reader, tuple(files), image_key, pixel_key,
                   tuple(fit), tuple(score), adapter)
        )  # fmt: skip

    if dataset in ("mnist", "fashion_mnist"):
        mn = config["mnist"]
        d = mn["defaults"]
        k = held_out_of(subset)
        for s in mn["seeds"]:
            run = mnist_layout.run_id(mnist_layout.RunParams(int(d["z"]), float(d["log_c"]), int(d["scaling"]), int(s)))
            parts = (VARIANT, dataset, f"class{k}", run, f"seed{s}")
            f = paths.fill(mnist_layout.SCORES, variant=VARIANT, dataset=dataset, held_out=k, run=run, seed=s)
            add("mnist", s, [f], [benchmark_path("mnist_train", *parts)], [benchmark_path("mnist_score", *parts)])
    elif dataset == "brain":
        br = config["brain"]
        coh = cohort(br)
        for s in br["seeds"]:
            run = brain_layout.run_id(
                brain_layout.BrainRun(int(br["model"]["z"]), float(br["model"]["log_c"]), 1.0, int(s))
            )
            parts = (VARIANT, coh, run, f"seed{s}")
            f = paths.fill(brain_layout.SCORES_BRATS, variant=VARIANT, cohort=coh, run=run, seed=s)
            add("brain", s, [f], [benchmark_path("brain_train", *parts)], [benchmark_path("brain_score", *parts)])
    elif dataset == "cells" and spec.family == "cell_vae":
        for s in config["cells"]["seeds"]:
            model = method.rpartition("_")[0]
            stage = cell_stage_of(model)
            fit = [benchmark_path("cells_train_mean", VARIANT, f"seed{s}")]
            if stage != "mean":
                fit.append(benchmark_path("cells_train_precision", VARIANT, stage, f"seed{s}"))
            f = paths.fill(cells_layout.SCORES, variant=VARIANT, method=method, seed=s)
            add("cells", s, [f], fit, [benchmark_path("cells_score", VARIANT, method, f"seed{s}")])
    elif dataset == "cells":  # the kNN rows of table4
        for s in config["mvtec"]["cells"]["seeds"]:
            f = paths.fill(cells_layout.KNN_SCORES, knn_method=method, seed=s)
            add("cells", s, [f], [], [benchmark_path("cells_score_knn", method, f"seed{s}")])
    elif dataset == "mvtec":
        files = [paths.fill(t, category=subset, knn_method=method) for t in (mvtec_layout.SCORES, mvtec_layout.MAPS)]
        add("mvtec", config["mvtec"]["seed"], files, [], [benchmark_path("mvtec_score", subset, method)])
    return out


def job_seeds(config: Mapping[str, Any], method: str) -> list[int]:
    """Seeds of a matrix job: all matrix seeds, or the first only for a deterministic method."""
    seeds = [int(s) for s in config["matrix"]["seeds"]]
    return seeds if method == VAE or catalogue.METHODS[method].seeded else seeds[:1]


def _matrix_sources(config: Mapping[str, Any], method: str, dataset: str, subset: str) -> list[Source]:
    job = catalogue.plan(method, dataset).job
    adapter = catalogue.describe(method, dataset, config)
    image_key, pixel_key = _keys(method, "matrix")
    if not catalogue.DATASETS[dataset].masks:
        pixel_key = ""
    out = []
    for s in job_seeds(config, job):
        if job == VAE:
            f = paths.fill(VAE_SCORES, matrix_dataset=dataset, subset=subset, seed=s)
            fit = [benchmark_path("matrix_train_vae", dataset, subset, f"seed{s}")]
            score = [benchmark_path("matrix_score_vae", dataset, subset, f"seed{s}")]
        else:
            f = paths.fill(SCORES, matrix_dataset=dataset, subset=subset, matrix_method=job, seed=s)
            fit, score = [], [benchmark_path("matrix_score", dataset, subset, job, f"seed{s}")]
        out.append(
            Source(method, dataset, subset, s, "matrix", "matrix", (f,), image_key, pixel_key, tuple(fit),
                   tuple(score), adapter)
        )  # fmt: skip
    return out


def sources(config: Mapping[str, Any]) -> list[Source]:
    """Every computed (method, dataset, subset, seed) of the configured matrix, with its files."""
    out = []
    for d in datasets(config):
        for m in methods(config):
            p = catalogue.plan(m, d)
            if p.kind == "n/a" or all(catalogue.level_status(m, d, lv) for lv in catalogue.levels(d)):
                continue
            for sub in subsets(config, d):
                out += (_paper_sources if p.kind == "paper" else _matrix_sources)(config, m, d, sub)
    return out


def na_cells(config: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every (method, dataset, level) of the configured matrix that is n/a, with the reason."""
    return [
        {"method": m, "dataset": d, "level": lv, "reason": reason}
        for d in datasets(config)
        for m in methods(config)
        for lv in catalogue.levels(d)
        if (reason := catalogue.level_status(m, d, lv))
    ]


def table_inputs(config: Mapping[str, Any]) -> list[str]:
    """Every file the matrix tables read: score files and benchmark records (deduplicated, in order)."""
    files = [f for s in sources(config) for f in (*s.files, *s.fit, *s.score)]
    return list(dict.fromkeys(files))


def evaluate_section(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the table job needs besides the files: the brain's slice rule (code variant `corrected`), whether to
    compute AUPRO, the bootstrap settings."""
    brain = variants.apply("brain", config["brain"], VARIANT)["evaluate"]
    return {
        "diseased_min_voxels": int(brain["diseased_min_voxels"]),
        "aupro": bool(config["matrix"]["aupro"]),
        "bootstrap": dict(config["matrix"]["bootstrap"]),
    }


# ---------------------------------------------------------------------------------------- the jobs
def job_section(config: Mapping[str, Any], dataset: str, method: str) -> dict[str, Any]:
    """What a matrix job running `method` (a `MATRIX_JOBS` method or `conv_vae`) on `dataset` needs."""
    mx = config["matrix"]
    ds_cfg = dict(mx["datasets"][dataset])
    out: dict[str, Any] = {
        "method": method,
        "dataset": dataset,
        "options": ds_cfg,
        "adapter": asdict(catalogue.adapter(method, dataset, config)),
        "description": catalogue.job_description(method, dataset, config),
        "batch_size": int(mx["batch_size"]),
    }
    if dataset == "brain":
        out["clip"] = float(config["brain"]["preprocess"]["clip"])
    if dataset == "mvtec":
        out["preprocess"] = dict(config["mvtec"]["preprocess"])
    if method in KNN_METHODS:
        out["knn"] = mvtec_layout.knn_section(config["mvtec"], method)
    elif method in MATRIX_JOBS:
        out["params"] = dict(mx["baselines"][method])
    else:
        brain = variants.apply("brain", config["brain"], VARIANT)
        train = {**brain["train"], **{k: v for k, v in mx["conv_vae"].items() if v is not None}}
        out["brain"] = {"model": brain["model"], "train": train, "score": brain["score"]}
    return out


def data_inputs(config: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """Input function of the matrix jobs: the dataset's prepared files (+ the backbone weights for kNN)."""

    def inputs(wildcards: Any) -> dict[str, Any]:
        d = wildcards.matrix_dataset
        if d in ("mnist", "fashion_mnist"):
            files: dict[str, Any] = {"data": paths.fill(mnist_layout.DATA, dataset=d)}
        elif d == "brain":
            files = {
                "train": brain_layout.train_inputs(config["brain"])["train"],
                "test": brain_layout.preprocessed_files(config["brain"], "brats"),
            }
        elif d == "cells":
            files = {"data": cells_layout.DATA}
        else:
            files = {"data": mvtec_layout.LAYOUT_JSON}
        knn = getattr(wildcards, "matrix_method", VAE) in KNN_METHODS
        files["weights"] = mvtec_layout.weights_inputs(config["mvtec"]) if knn else []
        return files

    return inputs


def validate(config: Mapping[str, Any]) -> None:
    """Parse-time checks: every matrix dataset's source experiment is configured, seeds and classes are sane."""
    mx = config["matrix"]
    for d in datasets(config):
        if d in ("mnist", "fashion_mnist") and d not in config["mnist"]["datasets"]:
            raise AnolocError(
                f"matrix.datasets.{d}: the mnist section has no source for {d} (mnist.datasets.{d}); add it "
                f"there or remove {d} from matrix.datasets"
            )
        if d == "mvtec" and "dataset" not in config["mvtec"]:
            raise AnolocError(
                "matrix.datasets.mvtec needs the mvtec section's dataset (mvtec.dataset); add it or remove mvtec"
            )
    knn = any(catalogue.METHODS[m].family == "knn" for m in methods(config))
    if knn and "cells" in datasets(config) and not cells_layout.knn_runnable(config):
        raise AnolocError(
            "the matrix reads SPADE / PaDiM / PatchCore on the cells from the kNN-on-cells jobs, which need a complete "
            "mvtec section (mvtec.dataset, mvtec.backbone, mvtec.cells); add it or remove the kNN methods or the cells "
            "from matrix.methods / matrix.datasets"
        )
    if not mx["seeds"]:
        raise AnolocError("matrix.seeds must name at least one seed")
    sources(config)  # unknown classes, bad run ids: errors here, before any job
