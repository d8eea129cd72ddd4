"""The claims ledger: every published claim of the two papers, checked on the saved score files and tables
(torch-free; statistics from `anoloc.stats`, verdict rules from `anoloc.verdicts`).

One small function per claim (`CLAIM_FUNCTIONS`), each returning ledger rows, one per (claim, dataset, variant);
`claims_table` runs them all on the loaded `Evidence`. A claim whose experiment did not run, or whose data cannot
support it, gets a `not measured` row whose `reason` names the missing config or data — never an error.

Thresholds and tolerances, fixed here before any result was seen (deliberately not config keys, so they cannot be
tuned to the data; docs/claims.md explains each):

- `CONFIDENCE` = 0.95: every interval is two-sided 95 %.
- `ALPHA` = 0.05: a cell of a "most cases" claim is significant when its Holm-adjusted p-value (Holm over the cells
  of that one ledger row) is below this; only reported, the verdict uses the fraction's interval.
- `KL_LOG_C` = 1.4: the log c at which the KL term is claimed to beat Rec (at the default z and s).
- `CONSTRAINED_Z` = 5: a FashionMNIST model with latent size z ≤ 5 is "severely constrained".
- `DICE_TOLERANCE` = 0.05: calibrated Dice is "close to the oracle" when the 95 % interval of calibrated − oracle
  Dice lies within ±0.05.
- `MVTEC_TOLERANCE` = 0.02: a kNN method reproduces its published MVTec AUROC (average over the 15 classes) when
  measured − published lies within ±0.02 (2 AUROC points).
- and those of `anoloc.verdicts`: `PRACTICAL_MARGIN` 0.01, `MIN_SAMPLES` 10, `MIN_CELLS` 5, `MAJORITY` ½.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from anoloc.experiments.brain.layout import parse_score_file as parse_brain_scores
from anoloc.experiments.cells.layout import KNN_VARIANT
from anoloc.experiments.cells.layout import parse_score_file as parse_cell_scores
from anoloc.experiments.mnist.layout import parse_score_file as parse_mnist_scores
from anoloc.experiments.mvtec.layout import SCORES as MVTEC_SCORES
from anoloc.io import write_csv
from anoloc.paths import parse
from anoloc.scores.names import CELL_INFERENCES, PIXEL_SCORES, SCORE_LABELS
from anoloc.stats import (
    Difference,
    GroupStatistic,
    RankStatistic,
    bootstrap_p_value,
    delong_auroc,
    delong_paired_seeds,
    dice_statistic,
    fraction_won,
    group_bootstrap,
    paired_bootstrap_seeds,
    pooled_statistic,
    rank_counts,
    seed_mean,
)
from anoloc.utils import AnolocError, PathLike
from anoloc.verdicts import (
    INCONCLUSIVE,
    MAJORITY,
    MIN_CELLS,
    Verdict,
    all_of,
    directional,
    most_cases,
    not_measured,
    within_tolerance,
)

CONFIDENCE = 0.95
ALPHA = 0.05
KL_LOG_C = 1.4
CONSTRAINED_Z = 5
DICE_TOLERANCE = 0.05
MVTEC_TOLERANCE = 0.02

ZIMMERER = "Zimmerer 2019"
VODENICHARSKI = "Vodenicharski 2022"
BRAIN_METRICS = ("auroc", "ap", "dice")  # pixel AUROC, AP and Dice at the oracle threshold of table2
CELL_METRICS = ("auroc", "auprc")  # the SUPN paper's AUROC and trapezoidal AUPRC
BEST_BRAIN = ("kl_grad", "combi")  # the scores claimed best on BraTS
CALIBRATED = ("kl_grad", "combi")  # the scores whose calibrated Dice is checked

LEDGER_COLUMNS = [
    "claim_id",
    "paper",
    "claim",
    "evidence",
    "dataset",
    "variant",
    "data",
    "effect_name",
    "effect",
    "ci_low",
    "ci_high",
    "n",
    "test",
    "p_value",
    "rule",
    "reference",
    "tolerance",
    "verdict",
    "reason",
]


@dataclass(frozen=True)
class Claim:
    """One published claim: its id, paper, short title, the sentence (quoting the spec's wording) and the verdict
    rule of `anoloc.verdicts` that judges it."""

    id: str
    paper: str
    title: str
    claim: str
    rule: str
    tolerance: float = math.nan  # of a `within_tolerance` claim

    @property
    def reference(self) -> float:
        """The line the effect is judged against: ½ for "most cases", else 0."""
        return MAJORITY if self.rule == "most_cases" else 0.0


_CLAIMS = (
    Claim(
        "kl_elbo_beat_rec",
        ZIMMERER,
        "(Fashion)MNIST: KL or ELBO beats Rec in most cases",
        'Sample-wise (Fashion)MNIST: "In most cases the Rec-term discriminates worse than either the KL-term or the '
        'ELBO" (vae-kl-grad spec §2.6, after [3P]).',
        "most_cases",
    ),
    Claim(
        "kl_beats_rec_logc",
        ZIMMERER,
        f"(Fashion)MNIST: KL beats Rec at log c = {KL_LOG_C:g}",
        f'Sample-wise (Fashion)MNIST: "by adjusting the hyperparameter (log c = {KL_LOG_C:g})" the KL-term outperforms '
        "the reconstruction term (vae-kl-grad spec §2.3, after [3P]).",
        "directional",
    ),
    Claim(
        "rec_wins_when_constrained",
        ZIMMERER,
        f"(Fashion)MNIST: Rec wins only when constrained (z ≤ {CONSTRAINED_Z})",
        'Sample-wise (Fashion)MNIST: "Where Rec does better, the model is severely constrained (e.g. a small latent '
        'dimension)" (vae-kl-grad spec §2.6, after [3P]).',
        "directional",
    ),
    Claim(
        "brats_rec_outperformed",
        ZIMMERER,
        "BraTS: Rec alone is outperformed by the other pixel scores",
        'Pixel-wise BraTS: "in most cases the reconstruction error alone is outperformed by other methods" '
        "(vae-kl-grad spec §4.2, after [3P]).",
        "most_cases",
    ),
    Claim(
        "brats_klgrad_combi_best",
        ZIMMERER,
        "BraTS: KL-Grad and Combi are best for most settings",
        'Pixel-wise BraTS: "for most choices the KL-Grad and the combi model perform best, indicating a more robust '
        'performance" (vae-kl-grad spec §4.2, after [3P]).',
        "most_cases",
    ),
    Claim(
        "brats_calibrated_dice",
        ZIMMERER,
        "BraTS: a threshold from 1/5 of the patients gives Dice close to the oracle",
        'Pixel-wise BraTS, "hyperparameter tuning": "use 1/5 of the data to determine the threshold" (vae-kl-grad '
        f"spec §5.3); checked here: the Dice of that threshold on the other 4/5 is within ±{DICE_TOLERANCE:g} of the "
        "oracle Dice there (KL-Grad and Combi).",
        "within_tolerance",
        DICE_TOLERANCE,
    ),
    Claim(
        "cells_supn_beats_diag",
        VODENICHARSKI,
        "Cells: SUPN beats the diagonal Gaussian",
        'Fluorescent cells: SUPN is "more effective for detecting real and synthetic structured image perturbations '
        'compared to diagonal Gaussian likelihoods" (abstract, supn-cells spec §5.3); AUROC and AUPRC, sampled and '
        "restoration.",
        "directional",
    ),
    Claim(
        "cells_supn_beats_l2",
        VODENICHARSKI,
        "Cells: SUPN beats L2",
        "Fluorescent cells: SUPN beats the fixed-variance (L2) residual of the same mean, AUROC and AUPRC, sampled and "
        "restoration (the rows of the paper's cell table, supn-cells spec §2.8, §5.2; the spec quotes no sentence).",
        "directional",
    ),
    Claim(
        "cells_supn_beats_knn",
        VODENICHARSKI,
        "Cells: the kNN methods are weaker than SUPN",
        "Fluorescent cells: SPADE, PaDiM and PatchCore, strong on MVTec AD, detect infected cells worse than SUPN "
        "(AUROC and AUPRC; the paper's cell table, supn-cells spec §5.1; the spec quotes no sentence).",
        "directional",
    ),
    *(
        Claim(
            f"mvtec_{m}_published",
            VODENICHARSKI,
            f"MVTec AD: {label} within ±{MVTEC_TOLERANCE:g} of its published AUROC",
            f"MVTec AD: {label} (wide_resnet50_2) reproduces its published image and pixel AUROC, averaged over the 15 "
            f"classes, within ±{MVTEC_TOLERANCE:g} (the SUPN repo's MVTec reproduction, supn-cells spec §5.4–§5.5; "
            "published numbers in src/anoloc/data/mvtec_reference.csv).",
            "within_tolerance",
            MVTEC_TOLERANCE,
        )
        for m, label in (("spade", "SPADE"), ("padim", "PaDiM"), ("patchcore", "PatchCore"))
    ),
)
CLAIMS: dict[str, Claim] = {c.id: c for c in _CLAIMS}


# ================================================================================================ evidence
@dataclass
class CellScores:
    """Cell scores aligned on one list of cells: `labels` (1 = infected) and, per (variant, method), the score
    arrays of its seeds (`seeds` in the same order)."""

    labels: np.ndarray
    scores: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)
    seeds: dict[tuple[str, str], list[int]] = field(default_factory=dict)


@dataclass
class Evidence:
    """Everything the claims read, loaded once; None where the experiment did not run (→ `not measured`)."""

    mnist: pd.DataFrame | None = None  # `mnist_cells`
    brain: pd.DataFrame | None = None  # `brain_comparisons`
    table3: pd.DataFrame | None = None
    cells: CellScores | None = None
    mvtec_image: pd.DataFrame | None = None  # `mvtec_image_aurocs`
    table5: pd.DataFrame | None = None


MNIST_CELL_KEYS = ["dataset", "variant", "held_out_class", "z", "log_c", "scaling"]


def mnist_cells(score_files: Iterable[PathLike], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per (dataset, variant, held-out class, z, log c, s) — a "cell" — with its seeds combined: the seed-mean
    AUROC of KL, ELBO and Rec, and for KL and ELBO the DeLong difference to Rec (`d_*` = mean over seeds of
    AUROC(·) − AUROC(Rec), variance `var_*`, Wald interval `lo_*`/`hi_*`, two-sided p `p_*`;
    `anoloc.stats.delong_paired_seeds`). All seeds of a cell must score the same test images."""
    groups: dict[tuple[Any, ...], list[tuple[int, PathLike]]] = defaultdict(list)
    for path in score_files:
        variant, dataset, held_out, run = parse_mnist_scores(path)
        groups[(dataset, variant, held_out, run.z, run.log_c, run.scaling)].append((run.seed, path))
    rows = []
    for key, seeds in sorted(groups.items()):
        seeds.sort()
        frames = [pd.read_csv(p) for _, p in seeds]
        y = frames[0]["label"].to_numpy()
        for (_, p), df in zip(seeds[1:], frames[1:], strict=True):
            if not np.array_equal(df["label"].to_numpy(), y):
                raise AnolocError(f"{p}: its labels differ from {seeds[0][1]} (the seeds of a run share the test set)")
        row: dict[str, Any] = dict(zip(MNIST_CELL_KEYS, key, strict=True))
        row |= {"seeds": " ".join(str(s) for s, _ in seeds), "n": int(y.size), "n_anomalous": int(y.sum())}
        for s in ("kl", "elbo"):
            r = delong_paired_seeds(y, [df[s] for df in frames], [df["rec"] for df in frames], confidence)
            row |= {f"auroc_{s}": r.auroc_a, f"d_{s}": r.estimate, f"var_{s}": r.variance}
            row |= {f"lo_{s}": r.ci_low, f"hi_{s}": r.ci_high, f"p_{s}": r.p_value, "auroc_rec": r.auroc_b}
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Margin:
    """max(statistics `best`) − max(statistics `rest`) under the same group weights: > 0 when one of `best` is the
    best of all (a `GroupStatistic`)."""

    best: tuple[GroupStatistic, ...]
    rest: tuple[GroupStatistic, ...]

    @property
    def n_groups(self) -> int:
        return self.best[0].n_groups

    @property
    def approx_bound(self) -> float:
        return float(sum(getattr(p, "approx_bound", 0.0) for p in (*self.best, *self.rest)))

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        top = np.max([p(weights) for p in self.best], axis=0)
        return top - np.max([p(weights) for p in self.rest], axis=0)


BRAIN_RUN_KEYS = ["variant", "z", "log_c", "width"]


def _oracle_threshold(t2: pd.DataFrame, variant: str, run: Any, score: str, table2: PathLike) -> float:
    sel = t2[
        (t2["variant"] == variant)
        & (t2["z"] == run.z)
        & np.isclose(t2["log_c"], run.log_c)
        & np.isclose(t2["width"], run.width)
        & (t2["seed"] == run.seed)
        & (t2["score"] == score)
    ]
    if len(sel) != 1:
        raise AnolocError(f"{table2}: no pixel row for {variant} {run} {score}; rebuild it (snakemake {table2})")
    return float(sel["threshold_oracle"].iloc[0])


def brain_comparisons(
    score_files: Iterable[PathLike], table2: PathLike, n_resamples: int, seed: int, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Paired comparisons of the pixel scores per brain run (seeds combined), bootstrapped over patients.

    One row per (variant, z, log c, width, metric, comparison): metric ∈ `BRAIN_METRICS` (pooled pixel AUROC, AP, and
    Dice at each score's oracle threshold from table2); comparison `<score>-rec` (metric(score) − metric(Rec), for
    each other pixel score) or `best` (max of KL-Grad and Combi − max of the other three). Every seed's statistic is
    computed under the same patient resamples and averaged (`anoloc.stats.seed_mean`); `anoloc.stats.group_bootstrap`
    with `n_resamples` and `seed` gives the percentile interval and p-value.
    """
    t2 = pd.read_csv(table2)
    t2 = t2[t2["level"] == "pixel"]
    groups: dict[tuple[Any, ...], list[tuple[Any, PathLike]]] = defaultdict(list)
    for path in score_files:
        variant, run = parse_brain_scores(path)
        groups[(variant, run.z, run.log_c, run.width)].append((run, path))
    rows = []
    for key, runs in sorted(groups.items()):
        per_seed: dict[str, dict[str, list[GroupStatistic]]] = {k: defaultdict(list) for k in PIXEL_SCORES}
        for run, path in sorted(runs, key=lambda r: r[0].seed):
            with np.load(path, allow_pickle=False) as f:  # one map at a time: full-size BraTS maps are large
                label, subject = f["label"], f["subject"]
                for k in PIXEL_SCORES:
                    s = f[k]
                    counts = rank_counts(label, s, subject)
                    per_seed[k]["auroc"].append(RankStatistic(counts, "auroc"))
                    per_seed[k]["ap"].append(RankStatistic(counts, "ap"))
                    thr = _oracle_threshold(t2, key[0], run, k, table2)
                    per_seed[k]["dice"].append(dice_statistic(label, s, subject, thr))
        combined = {
            k: {m: st[0] if len(st) == 1 else seed_mean(st) for m, st in d.items()} for k, d in per_seed.items()
        }
        for m in BRAIN_METRICS:
            st = {k: combined[k][m] for k in PIXEL_SCORES}
            comparisons: dict[str, GroupStatistic] = {
                f"{k}-rec": Difference(st[k], st["rec"]) for k in PIXEL_SCORES if k != "rec"
            }
            rest = tuple(st[k] for k in PIXEL_SCORES if k not in BEST_BRAIN)
            comparisons["best"] = Margin(tuple(st[k] for k in BEST_BRAIN), rest)
            for name, stat in comparisons.items():
                res = group_bootstrap(stat, n_resamples=n_resamples, seed=seed, confidence=confidence)
                rows.append(
                    {
                        **dict(zip(BRAIN_RUN_KEYS, key, strict=True)),
                        "n_seeds": len(runs),
                        "metric": m,
                        "comparison": name,
                        "estimate": res.estimate,
                        "ci_low": res.ci_low,
                        "ci_high": res.ci_high,
                        "p_value": res.p_value,
                        "n_patients": res.n_groups,
                        "approx_bound": res.approx_bound,
                    }
                )
    return pd.DataFrame(rows)


def load_cells(score_files: Iterable[PathLike]) -> CellScores:
    """Every cell score CSV, aligned on (split, name); all files must score the same cells with the same labels."""
    cells: CellScores | None = None
    index: pd.MultiIndex | None = None
    first = None
    for path in sorted(map(str, score_files)):
        variant, model, inference, seed = parse_cell_scores(path)
        df = pd.read_csv(path, dtype={"name": str}).sort_values(["split", "name"])
        keys = pd.MultiIndex.from_frame(df[["split", "name"]])
        if cells is None:
            cells, index, first = CellScores(df["label"].to_numpy()), keys, path
        elif not keys.equals(index) or not np.array_equal(df["label"].to_numpy(), cells.labels):
            raise AnolocError(f"{path} does not score the same cells (or labels) as {first}; rerun the cells scoring")
        method = f"{model}_{inference}" if inference else model
        cells.scores.setdefault((variant, method), []).append(df["score"].to_numpy(dtype=np.float64))
        cells.seeds.setdefault((variant, method), []).append(seed)
    return cells if cells is not None else CellScores(np.zeros(0))


def mvtec_image_aurocs(score_files: Iterable[PathLike]) -> pd.DataFrame:
    """Image AUROC of every (class, method) score CSV with its DeLong variance (columns class, method, auroc,
    variance, n)."""
    rows = []
    for path in score_files:
        v = parse(MVTEC_SCORES, path)
        df = pd.read_csv(path)
        r = delong_auroc(df["label"], df["score"])
        rows.append({"class": v["category"], "method": v["knn_method"], "auroc": r.estimate, "variance": r.variance})
        rows[-1]["n"] = r.n
    return pd.DataFrame(rows, columns=["class", "method", "auroc", "variance", "n"])


def load_evidence(files: Mapping[str, Sequence[PathLike]], cfg: Mapping[str, Any]) -> Evidence:
    """Load what the input files hold (keys of `anoloc.experiments.claims.layout.INPUT_KEYS`; missing or empty →
    None); `cfg`: the `claims` config section (n_resamples, seed)."""
    ev = Evidence()
    if files.get("mnist_scores"):
        ev.mnist = mnist_cells(files["mnist_scores"])
    if files.get("brain_scores") and files.get("table2"):
        ev.brain = brain_comparisons(
            files["brain_scores"], files["table2"][0], int(cfg["n_resamples"]), int(cfg["seed"])
        )
    if files.get("table3"):
        ev.table3 = pd.read_csv(files["table3"][0])
    if files.get("cells_scores"):
        ev.cells = load_cells([*files["cells_scores"], *files.get("knn_scores", [])])
    if files.get("mvtec_scores"):
        ev.mvtec_image = mvtec_image_aurocs(files["mvtec_scores"])
    if files.get("table5"):
        ev.table5 = pd.read_csv(files["table5"][0])
    return ev


# ============================================================================================ ledger rows
def _row(
    claim: Claim,
    dataset: str,
    variant: str,
    data: str,
    verdict: Verdict,
    *,
    evidence: str = "",
    effect_name: str = "",
    effect: float = math.nan,
    ci_low: float = math.nan,
    ci_high: float = math.nan,
    n: int | None = None,
    test: str = "",
    p_value: float = math.nan,
) -> dict[str, Any]:
    return {
        "claim_id": claim.id,
        "paper": claim.paper,
        "claim": claim.claim,
        "evidence": evidence,
        "dataset": dataset,
        "variant": variant,
        "data": data,
        "effect_name": effect_name,
        "effect": effect,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "n": n,
        "test": test,
        "p_value": p_value,
        "rule": claim.rule,
        "reference": claim.reference,
        "tolerance": claim.tolerance,
        "verdict": verdict.verdict,
        "reason": verdict.reason,
    }


def _missing_row(claim: Claim, dataset: str, variant: str, data: str, reason: str, **kw: Any) -> dict[str, Any]:
    return _row(claim, dataset, variant, data, not_measured(reason), **kw)


@dataclass(frozen=True)
class Part:
    """One part of a claim with several (e.g. AUROC and AUPRC): its name, estimate, interval, n, p and verdict."""

    name: str
    effect: float
    ci_low: float
    ci_high: float
    n: int
    p_value: float
    verdict: Verdict


def _weakest(parts: Sequence[Part], target: float | None = None) -> Part:
    """The part with the weakest evidence for the claim: the lowest interval bound ("A beats B", target None), or the
    interval reaching farthest from `target` (a tolerance claim)."""

    def key(p: Part) -> float:
        lo, hi = (p.effect, p.effect) if math.isnan(p.ci_low) or math.isnan(p.ci_high) else (p.ci_low, p.ci_high)
        return -lo if target is None else max(abs(lo - target), abs(hi - target))

    return max(parts, key=key)


def _joined_row(claim: Claim, dataset: str, variant: str, data: str, parts: Sequence[Part], **kw: Any) -> dict:
    """A claim judged on several parts (`anoloc.verdicts.all_of`); the row shows the weakest part's numbers."""
    verdict = all_of([p.verdict for p in parts], [p.name for p in parts])
    weak = _weakest(parts, kw.pop("target", None))
    kw["effect_name"] = f"{kw.get('effect_name', '')} — weakest of {len(parts)} parts: {weak.name}"
    return _row(
        claim, dataset, variant, data, verdict, effect=weak.effect, ci_low=weak.ci_low, ci_high=weak.ci_high,
        n=weak.n, p_value=weak.p_value, **kw,
    )  # fmt: skip


# ================================================================================== Zimmerer: (Fashion)MNIST
def _mnist_cases(ev: Evidence, ctx: Mapping[str, Any]):
    """(dataset, variant, data, cells of that dataset and variant or None, why not measured)."""
    mn = ctx["mnist"]
    for ds, data in mn["data"].items():
        for variant in mn["variants"]:
            if not mn["enabled"]:
                yield ds, variant, data, None, "mnist.enabled is false: no (Fashion)MNIST runs"
                continue
            cells = None if ev.mnist is None else ev.mnist[(ev.mnist.dataset == ds) & (ev.mnist.variant == variant)]
            if cells is None or cells.empty:
                yield ds, variant, data, None, f"no mnist score files for {ds} / {variant}"
            else:
                yield ds, variant, data, cells, ""


def _best_of_kl_elbo(cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: max over {KL, ELBO} of the AUROC difference to Rec, and the chosen comparison's DeLong p-value
    doubled (Bonferroni for picking the better of two)."""
    kl_better = cells["d_kl"].to_numpy() >= cells["d_elbo"].to_numpy()
    d = np.where(kl_better, cells["d_kl"], cells["d_elbo"])
    p = np.minimum(1.0, 2 * np.where(kl_better, cells["p_kl"], cells["p_elbo"]))
    return d, p


def _cells_text(cells: pd.DataFrame) -> str:
    classes = ",".join(str(k) for k in sorted(set(cells["held_out_class"])))
    settings = sorted({(int(r.z), float(r.log_c), int(r.scaling)) for r in cells.itertuples()})
    runs = "; ".join(f"z{z} log c {c:g} s{s}" for z, c, s in settings)
    return f"{len(cells)} cells: classes {classes} × settings ({runs}); seeds {cells['seeds'].iloc[0]}"


def kl_elbo_beat_rec(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fraction of (class, setting) cells in which the better of KL and ELBO has a higher seed-mean AUROC than Rec
    (`anoloc.stats.fraction_won`: Clopper–Pearson interval, sign test; per-cell DeLong p, doubled for the choice of
    KL or ELBO, Holm-adjusted), judged by `anoloc.verdicts.most_cases`."""
    claim, rows = CLAIMS["kl_elbo_beat_rec"], []
    for ds, variant, data, cells, missing in _mnist_cases(ev, ctx):
        if cells is None:
            rows.append(_missing_row(claim, ds, variant, data, missing))
            continue
        d, p = _best_of_kl_elbo(cells)
        wf = fraction_won(d, p_values=p, alpha=ALPHA, confidence=CONFIDENCE)
        v = most_cases(wf.fraction, wf.ci_low, wf.ci_high, n=wf.n_cells, n_won=wf.n_won)
        sig = f"; significant cells (Holm-adjusted p < {ALPHA:g}): {wf.n_significant_won} won, "
        sig += f"{wf.n_significant_lost} lost"
        rows.append(
            _row(
                claim, ds, variant, data, Verdict(v.verdict, v.reason + sig),
                evidence=f"table1 rows dataset={ds}, variant={variant}, scores kl/elbo vs rec: {_cells_text(cells)}",
                effect_name="fraction of cells where max(AUROC KL, AUROC ELBO) > AUROC Rec",
                effect=wf.fraction, ci_low=wf.ci_low, ci_high=wf.ci_high, n=wf.n_cells,
                test=wf.test + "; per cell: paired DeLong of the better of KL / ELBO vs Rec (p × 2), seeds averaged",
                p_value=wf.p_value,
            )
        )  # fmt: skip
    return rows


def _mean_of_independent(estimates: np.ndarray, variances: np.ndarray) -> tuple[float, float, float, float]:
    """(mean, ci_low, ci_high, two-sided p) of the equal-weight mean of independent normal estimates (Wald)."""
    mean = float(np.mean(estimates))
    se = float(np.sqrt(np.sum(variances))) / estimates.size
    if se == 0.0:
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    z = sps.norm.ppf(0.5 + CONFIDENCE / 2)
    return mean, mean - z * se, mean + z * se, float(2 * sps.norm.sf(abs(mean) / se))


def kl_beats_rec_logc(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """AUROC(KL) − AUROC(Rec) at log c = `KL_LOG_C` (default z and s): per class the seed-mean DeLong difference,
    then the equal-weight mean over the classes run there (variance Σ var / C², classes taken as independent),
    judged by `anoloc.verdicts.directional`."""
    claim, rows = CLAIMS["kl_beats_rec_logc"], []
    d0 = ctx["mnist"]["defaults"]
    for ds, variant, data, cells, missing in _mnist_cases(ev, ctx):
        if cells is not None:
            cells = cells[
                np.isclose(cells["log_c"], KL_LOG_C)
                & (cells["z"] == int(d0["z"]))
                & (cells["scaling"] == int(d0["scaling"]))
            ]
            if cells.empty:
                missing = (
                    f"no run at log c = {KL_LOG_C:g} with z = {d0['z']}, s = {d0['scaling']}: add {KL_LOG_C:g} to "
                    "mnist.sweep.log_c (with classes in mnist.sweep_classes), as config/paper.yaml"
                )
        if cells is None or cells.empty:
            rows.append(_missing_row(claim, ds, variant, data, missing))
            continue
        est, lo, hi, p = _mean_of_independent(cells["d_kl"].to_numpy(), cells["var_kl"].to_numpy())
        n = int(cells["n"].min())
        rows.append(
            _row(
                claim, ds, variant, data, directional(est, lo, hi, n=n, p_value=p),
                evidence=f"table1 rows dataset={ds}, variant={variant}, log_c={KL_LOG_C:g}, scores kl vs rec: "
                + _cells_text(cells),
                effect_name=f"AUROC(KL) − AUROC(Rec) at log c = {KL_LOG_C:g}, mean over {len(cells)} classes",
                effect=est, ci_low=lo, ci_high=hi, n=n,
                test=f"paired DeLong per class (seeds averaged), Wald mean of {len(cells)} classes", p_value=p,
            )
        )  # fmt: skip
    return rows


def rec_wins_when_constrained(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rec's advantage AUROC(Rec) − max(AUROC KL, AUROC ELBO) is larger in the constrained cells (z ≤
    `CONSTRAINED_Z`) than in the others: difference of the two cell means with a percentile bootstrap over cells
    (`scipy.stats.bootstrap`, the two groups resampled independently), judged by `anoloc.verdicts.directional`
    (at least `MIN_CELLS` cells and 2 in each group)."""
    claim, rows = CLAIMS["rec_wins_when_constrained"], []
    for ds, variant, data, cells, missing in _mnist_cases(ev, ctx):
        if cells is not None and not (cells["z"] <= CONSTRAINED_Z).any():
            missing = f"no run with z ≤ {CONSTRAINED_Z}: add small latent sizes to mnist.sweep.z (as config/paper.yaml)"
            cells = None
        if cells is None:
            rows.append(_missing_row(claim, ds, variant, data, missing))
            continue
        adv = -_best_of_kl_elbo(cells)[0]
        small = cells["z"].to_numpy() <= CONSTRAINED_Z
        a, b = adv[small], adv[~small]
        counts = (
            f"; Rec beats both KL and ELBO in {int((a > 0).sum())}/{a.size} cells with z ≤ {CONSTRAINED_Z} and "
            f"{int((b > 0).sum())}/{b.size} others"
        )
        effect = float(a.mean() - b.mean()) if b.size else math.nan
        lo = hi = p = math.nan
        if a.size >= 2 and b.size >= 2:
            res = sps.bootstrap(
                (a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), vectorized=True, paired=False,
                n_resamples=int(cfg["n_resamples"]), confidence_level=CONFIDENCE, method="percentile",
                rng=np.random.default_rng(int(cfg["seed"])),
            )  # fmt: skip
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
            p = bootstrap_p_value(res.bootstrap_distribution)
            v = directional(effect, lo, hi, n=int(adv.size), min_n=MIN_CELLS, p_value=p)
        elif b.size == 0:
            v = not_measured(f"no run with z > {CONSTRAINED_Z} to compare with")
        else:
            few = f"too few cells to judge: {a.size} with z ≤ {CONSTRAINED_Z}, {b.size} others (≥ 2 each)"
            v = Verdict(INCONCLUSIVE, few)
        rows.append(
            _row(
                claim, ds, variant, data, Verdict(v.verdict, v.reason + counts),
                evidence=f"table1 rows dataset={ds}, variant={variant}, scores kl/elbo/rec: {_cells_text(cells)}",
                effect_name=f"mean Rec advantage (AUROC Rec − max KL, ELBO): cells z ≤ {CONSTRAINED_Z} − others",
                effect=effect, ci_low=lo, ci_high=hi, n=int(adv.size),
                test="difference of cell means, percentile bootstrap over cells (groups resampled independently)",
                p_value=p,
            )
        )  # fmt: skip
    return rows


# ========================================================================================= Zimmerer: BraTS
def _brain_cases(ev: Evidence, ctx: Mapping[str, Any], need: str = "brain"):
    br = ctx["brain"]
    for variant in br["variants"]:
        if not br["enabled"]:
            yield variant, br["data"], None, "brain.enabled is false: no brain runs"
            continue
        table = getattr(ev, need)
        sel = None if table is None else table[table["variant"] == variant]
        if sel is None or sel.empty:
            yield variant, br["data"], None, f"no brain score files / tables for variant {variant}"
        else:
            yield variant, br["data"], sel, ""


def _settings_text(df: pd.DataFrame) -> str:
    settings = sorted({(int(r.z), float(r.log_c), float(r.width)) for r in df.itertuples()})
    return ", ".join(f"z{z} log c {c:g} w{w:g}" for z, c, w in settings)


def _brain_most_cases(claim: Claim, cases: Iterable, comparisons: Sequence[str], effect_name: str, what: str) -> list:
    rows = []
    for variant, data, df, missing in cases:
        if df is None:
            rows.append(_missing_row(claim, "brats", variant, data, missing))
            continue
        df = df[df["comparison"].isin(comparisons)]
        wf = fraction_won(df["estimate"], p_values=df["p_value"], alpha=ALPHA, confidence=CONFIDENCE)
        v = most_cases(wf.fraction, wf.ci_low, wf.ci_high, n=wf.n_cells, n_won=wf.n_won)
        per_metric = ", ".join(
            f"{m} {int((g['estimate'] > 0).sum())}/{len(g)}" for m, g in df.groupby("metric", sort=False)
        )
        extra = (
            f"; won per metric: {per_metric}; significant cells (Holm-adjusted p < {ALPHA:g}): "
            f"{wf.n_significant_won} won, {wf.n_significant_lost} lost"
        )
        n_pat = int(df["n_patients"].min())
        rows.append(
            _row(
                claim, "brats", variant, data, Verdict(v.verdict, v.reason + extra),
                evidence=f"table2 pixel rows variant={variant} ({what}), settings: {_settings_text(df)}; BraTS score "
                f"files, {n_pat} patients, seeds per setting: {int(df['n_seeds'].min())}",
                effect_name=effect_name, effect=wf.fraction, ci_low=wf.ci_low, ci_high=wf.ci_high, n=wf.n_cells,
                test=wf.test + "; per cell: paired bootstrap over patients (pooled pixel AUROC / AP, Dice at the "
                "oracle threshold of table2), seeds averaged",
                p_value=wf.p_value,
            )
        )  # fmt: skip
    return rows


def brats_rec_outperformed(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fraction of (setting, other pixel score, metric) cells in which the other score beats Rec (pixel AUROC, AP,
    Dice; paired bootstrap over patients per cell), judged by `anoloc.verdicts.most_cases`."""
    others = [f"{k}-rec" for k in PIXEL_SCORES if k != "rec"]
    labels = ", ".join(SCORE_LABELS[k] for k in PIXEL_SCORES if k != "rec")
    return _brain_most_cases(
        CLAIMS["brats_rec_outperformed"], _brain_cases(ev, ctx), others,
        "fraction of (setting, score, metric) cells where the other score beats Rec", f"{labels} vs Rec",
    )  # fmt: skip


def brats_klgrad_combi_best(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fraction of (setting, metric) cells of the brain sweep in which KL-Grad or Combi is the best of the five pixel
    scores (margin max(KL-Grad, Combi) − max(others), bootstrap over patients), judged by `most_cases`."""
    return _brain_most_cases(
        CLAIMS["brats_klgrad_combi_best"], _brain_cases(ev, ctx), ["best"],
        "fraction of (setting, metric) cells where KL-Grad or Combi is best", "all five pixel scores",
    )  # fmt: skip


def brats_calibrated_dice(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Calibrated − oracle Dice on the evaluation patients (table3, default run), per score in `CALIBRATED`: the
    mean over splits and seeds with a t interval, within ±`DICE_TOLERANCE` of 0 (`within_tolerance`, `all_of`)."""
    claim, rows = CLAIMS["brats_calibrated_dice"], []
    d0 = ctx["brain"]["defaults"]
    for variant, data, t3, missing in _brain_cases(ev, ctx, "table3"):
        if t3 is not None:
            default = np.isclose(t3["log_c"], float(d0["log_c"])) & np.isclose(t3["width"], 1.0)
            t3 = t3[default & (t3["z"] == int(d0["z"]))]
            missing = "" if not t3.empty else "table3 has no row at the default brain run"
        if t3 is None or t3.empty:
            rows.append(_missing_row(claim, "brats", variant, data, missing))
            continue
        parts = []
        for k in CALIBRATED:
            diff = (t3.loc[t3["score"] == k, "dice_calib"] - t3.loc[t3["score"] == k, "dice_oracle"]).to_numpy()
            mean = float(diff.mean())
            if diff.size >= 2 and np.ptp(diff) > 0:
                ci = sps.ttest_1samp(diff, 0.0).confidence_interval(CONFIDENCE)
                lo, hi = float(ci.low), float(ci.high)
            else:
                lo = hi = mean if diff.size >= 2 else math.nan
            v = within_tolerance(mean, lo, hi, target=0.0, tolerance=DICE_TOLERANCE, n=int(diff.size))
            parts.append(Part(SCORE_LABELS[k], mean, lo, hi, int(diff.size), math.nan, v))
        n_splits = int(t3["split"].nunique())
        rows.append(
            _joined_row(
                claim, "brats", variant, data, parts, target=0.0,
                evidence=f"table3 rows variant={variant}, default run z{d0['z']} log c {float(d0['log_c']):g} w1, "
                f"scores {', '.join(CALIBRATED)}: {n_splits} splits × seeds {sorted(set(t3['seed']))}",
                effect_name="Dice(calibrated on 1/5) − Dice(oracle), evaluation patients",
                test="t interval of the mean over splits × seeds (splits share patients: optimistic)",
            )
        )  # fmt: skip
    return rows


# ===================================================================================== Vodenicharski: cells
def _cells_cases(ev: Evidence, ctx: Mapping[str, Any]):
    ce = ctx["cells"]
    for variant in ce["variants"]:
        if not ce["enabled"]:
            yield variant, ce["data"], "cells.enabled is false: no cell runs"
        elif ev.cells is None or not any(k[0] == variant for k in ev.cells.scores):
            yield variant, ce["data"], f"no cell score files for variant {variant}"
        else:
            yield variant, ce["data"], ""


def _seed_stats(cells: CellScores, key: tuple[str, str], metric: str) -> GroupStatistic:
    stats = [pooled_statistic(cells.labels, s, None, metric=metric) for s in cells.scores[key]]  # type: ignore[arg-type]
    return stats[0] if len(stats) == 1 else seed_mean(stats)


def _cells_vs(claim: Claim, ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any], other: str) -> list:
    """SUPN vs the VAE model `other` (diag | l2): per inference and metric a paired bootstrap over cells with the
    seeds averaged (`paired_bootstrap_seeds`), each part `directional`, joined by `all_of`."""
    rows = []
    for variant, data, missing in _cells_cases(ev, ctx):
        if missing:
            rows.append(_missing_row(claim, "cells", variant, data, missing))
            continue
        cells, parts = ev.cells, []
        assert cells is not None
        for inference in CELL_INFERENCES:
            a, b = (variant, f"supn_{inference}"), (variant, f"{other}_{inference}")
            if a not in cells.scores or b not in cells.scores:
                continue
            for m in CELL_METRICS:
                r = paired_bootstrap_seeds(
                    cells.labels, cells.scores[a], cells.scores[b], None, metric=m,  # type: ignore[arg-type]
                    n_resamples=int(cfg["n_resamples"]), seed=int(cfg["seed"]), confidence=CONFIDENCE,
                )  # fmt: skip
                v = directional(r.estimate, r.ci_low, r.ci_high, n=r.n, p_value=r.p_value)
                parts.append(Part(f"{m} {inference}", r.estimate, r.ci_low, r.ci_high, r.n, r.p_value, v))
        if not parts:
            rows.append(_missing_row(claim, "cells", variant, data, f"no supn / {other} score files for {variant}"))
            continue
        seeds = cells.seeds[(variant, f"supn_{CELL_INFERENCES[0]}")]
        rows.append(
            _joined_row(
                claim, "cells", variant, data, parts,
                evidence=f"table4_runs rows variant={variant}, model supn vs {other}, inference sampled / restoration, "
                f"seeds {seeds}; {cells.labels.size} cells ({int(cells.labels.sum())} infected)",
                effect_name=f"metric(SUPN) − metric({other.upper() if other == 'l2' else 'Diag'})",
                test=f"paired AUROC / AUPRC bootstrap over cells ({cfg['n_resamples']} resamples, percentile), seeds "
                "averaged",
            )
        )  # fmt: skip
    return rows


def cells_supn_beats_diag(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """SUPN − diag, AUROC and AUPRC, sampled and restoration: every part must show SUPN ahead (`all_of`)."""
    return _cells_vs(CLAIMS["cells_supn_beats_diag"], ev, ctx, cfg, "diag")


def cells_supn_beats_l2(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """SUPN − L2, AUROC and AUPRC, sampled and restoration: every part must show SUPN ahead (`all_of`)."""
    return _cells_vs(CLAIMS["cells_supn_beats_l2"], ev, ctx, cfg, "l2")


def cells_supn_beats_knn(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """SUPN (sampled and restoration, seeds averaged) − each kNN method (its own seeds averaged) on the same cells,
    AUROC and AUPRC, bootstrap over cells; every part `directional`, joined by `all_of`. The kNN methods have one
    variant (`corrected`); both SUPN variants are compared with it."""
    claim, rows = CLAIMS["cells_supn_beats_knn"], []
    knn_missing = ctx["cells"]["knn_missing"]
    for variant, data, missing in _cells_cases(ev, ctx):
        if missing or knn_missing:
            rows.append(_missing_row(claim, "cells", variant, data, missing or knn_missing))
            continue
        cells, parts = ev.cells, []
        assert cells is not None
        knn = [m for m in ctx["mvtec"]["methods"] if (KNN_VARIANT, m) in cells.scores]
        for inference in CELL_INFERENCES:
            a = (variant, f"supn_{inference}")
            if a not in cells.scores:
                continue
            for m in CELL_METRICS:
                for method in knn:
                    stat = Difference(_seed_stats(cells, a, m), _seed_stats(cells, (KNN_VARIANT, method), m))
                    r = group_bootstrap(stat, n_resamples=int(cfg["n_resamples"]), seed=int(cfg["seed"]))
                    v = directional(r.estimate, r.ci_low, r.ci_high, n=r.n, p_value=r.p_value)
                    name = f"{m} {inference} vs {method}"
                    parts.append(Part(name, r.estimate, r.ci_low, r.ci_high, r.n, r.p_value, v))
        if not parts:
            rows.append(_missing_row(claim, "cells", variant, data, "no SUPN or kNN cell score files"))
            continue
        rows.append(
            _joined_row(
                claim, "cells", variant, data, parts,
                evidence=f"table4_runs rows variant={variant} model supn vs {', '.join(knn)} (variant "
                f"{KNN_VARIANT}, seeds {cells.seeds[(KNN_VARIANT, knn[0])]}); {cells.labels.size} cells",
                effect_name="metric(SUPN) − metric(kNN method)",
                test=f"AUROC / AUPRC bootstrap over cells ({cfg['n_resamples']} resamples, percentile), each method's "
                "seeds averaged under the same resamples",
            )
        )  # fmt: skip
    return rows


# ===================================================================================== Vodenicharski: MVTec
def _mvtec_claim(method: str) -> Callable[[Evidence, Mapping[str, Any], Mapping[str, Any]], list[dict[str, Any]]]:
    claim = CLAIMS[f"mvtec_{method}_published"]

    def check(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
        mv, col = ctx["mvtec"], str(cfg["mvtec_reference"])
        missing = mv["missing"] or (None if method in mv["methods"] else f"mvtec.methods lacks {method}")
        if not missing and (ev.mvtec_image is None or ev.table5 is None):
            missing = "no MVTec score files / table5"
        if missing:
            return [_missing_row(claim, "mvtec", KNN_VARIANT, mv["data"], missing)]
        assert ev.mvtec_image is not None and ev.table5 is not None
        img = ev.mvtec_image[ev.mvtec_image["method"] == method]
        avg = ev.table5[(ev.table5["method"] == method) & (ev.table5["class"] == "average")]
        if img.empty or avg.empty:
            return [_missing_row(claim, "mvtec", KNN_VARIANT, mv["data"], f"no {method} rows in the MVTec results")]
        mean, lo, hi, _ = _mean_of_independent(img["auroc"].to_numpy(), img["variance"].to_numpy())
        parts = []
        for name, value, low, high in (
            ("image AUROC", mean, lo, hi),
            ("pixel AUROC", float(avg["pixel_auroc"].iloc[0]), math.nan, math.nan),
        ):
            ref = float(avg[f"ref_{name.split()[0]}_auroc_{col}"].iloc[0])
            if math.isnan(ref):
                v = not_measured(f"no published {name} ({col}) for {method} in mvtec_reference.csv")
            else:
                v = within_tolerance(value - ref, low - ref, high - ref, target=0.0, tolerance=MVTEC_TOLERANCE)
            parts.append(Part(f"{name} (published {ref:.3f})", value - ref, low - ref, high - ref, 0, math.nan, v))
        n = int(img["n"].sum())
        row = _joined_row(
            claim, "mvtec", KNN_VARIANT, mv["data"], parts, target=0.0,
            evidence=f"table5 average row of {method} ({len(img)} classes) beside ref_*_auroc_{col}; image AUROC from "
            "the per-image score files",
            effect_name=f"measured − published AUROC ({col})",
            test="image: DeLong per class, Wald mean of the classes; pixel: point estimate (no per-pixel file kept)",
        )  # fmt: skip
        row["n"] = n
        return [row]

    check.__name__ = check.__qualname__ = f"mvtec_{method}_published"
    check.__doc__ = (
        f"{method}'s MVTec AD image and pixel AUROC (average over the 15 classes) − its published value (column "
        f"`{{paper|repo}}` of mvtec_reference.csv, `claims.mvtec_reference`), within ±`MVTEC_TOLERANCE` (`all_of`)."
    )
    return check


mvtec_spade_published = _mvtec_claim("spade")
mvtec_padim_published = _mvtec_claim("padim")
mvtec_patchcore_published = _mvtec_claim("patchcore")

CLAIM_FUNCTIONS: dict[str, Callable[[Evidence, Mapping[str, Any], Mapping[str, Any]], list[dict[str, Any]]]] = {
    "kl_elbo_beat_rec": kl_elbo_beat_rec,
    "kl_beats_rec_logc": kl_beats_rec_logc,
    "rec_wins_when_constrained": rec_wins_when_constrained,
    "brats_rec_outperformed": brats_rec_outperformed,
    "brats_klgrad_combi_best": brats_klgrad_combi_best,
    "brats_calibrated_dice": brats_calibrated_dice,
    "cells_supn_beats_diag": cells_supn_beats_diag,
    "cells_supn_beats_l2": cells_supn_beats_l2,
    "cells_supn_beats_knn": cells_supn_beats_knn,
    "mvtec_spade_published": mvtec_spade_published,
    "mvtec_padim_published": mvtec_padim_published,
    "mvtec_patchcore_published": mvtec_patchcore_published,
}


def claims_table(ev: Evidence, ctx: Mapping[str, Any], cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The ledger: every claim's rows (`CLAIM_FUNCTIONS` order, then dataset and variant), columns `LEDGER_COLUMNS`."""
    rows = [r for fn in CLAIM_FUNCTIONS.values() for r in fn(ev, ctx, cfg)]
    df = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    df["n"] = df["n"].astype("Int64")
    return df


def write_table(
    files: Mapping[str, Sequence[PathLike]], ctx: Mapping[str, Any], cfg: Mapping[str, Any], out: PathLike
) -> pd.DataFrame:
    """Load the evidence, build the ledger and write it to `out`."""
    ledger = claims_table(load_evidence(files, cfg), ctx, cfg)
    write_csv(ledger, out)
    return ledger
