"""The reproduction summary of the README and of the report's first page, rendered from committed ledger snapshots
(torch-free).

`docs/claims/snapshots.yaml` lists the snapshots: each a copy of a run's `results/tables/claims.csv` under
`docs/claims/`, with a column title, the config and command that produced it and the hardware it ran on (the data
come from the ledger's `data` column). The summary is one table — claim × code variant → the verdict, effect and
95 % interval of every snapshot — written between `<!-- claims:start -->` and `<!-- claims:end -->` in README.md
(Markdown) and between `.. claims:start` and `.. claims:end` in report/workflow.rst (reStructuredText). No number
in it is typed by hand; a test checks that both files equal the rendering of the snapshots.

    python -m anoloc.experiments.claims.readme          # rewrite both blocks from docs/claims/
    python -m anoloc.experiments.claims.readme --check  # exit 1 if a block is stale
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from anoloc.experiments.claims.tables import CLAIMS
from anoloc.utils import AnolocError, PathLike, atomic_path
from anoloc.variants import VARIANTS
from anoloc.verdicts import NOT_MEASURED

SNAPSHOT_DIR = Path("docs/claims")
INDEX = "snapshots.yaml"
MARKDOWN_MARKERS = ("<!-- claims:start -->", "<!-- claims:end -->")
RST_MARKERS = (".. claims:start", ".. claims:end")
TARGETS = {"README.md": "markdown", "report/workflow.rst": "rst"}


@dataclass(frozen=True)
class Snapshot:
    """One committed ledger and what produced it."""

    title: str
    file: str
    config: str
    command: str
    hardware: str
    ledger: pd.DataFrame

    @property
    def data(self) -> str:
        """The data behind its measured rows (the ledger's `data` column), in ledger order."""
        measured = self.ledger[self.ledger["verdict"] != NOT_MEASURED]
        return "; ".join(dict.fromkeys(str(d) for d in measured["data"])) or "nothing measured"


def load_snapshots(folder: PathLike = SNAPSHOT_DIR) -> list[Snapshot]:
    """The snapshots listed in `<folder>/snapshots.yaml`, in its order."""
    folder = Path(folder)
    index = folder / INDEX
    try:
        entries = yaml.safe_load(index.read_text())
    except OSError as exc:
        raise AnolocError(f"{index}: cannot read the snapshot index ({exc})") from exc
    out = []
    for e in entries:
        missing = {"title", "file", "config", "command", "hardware"} - set(e)
        if missing:
            raise AnolocError(f"{index}: entry {e.get('file', e)} lacks {sorted(missing)}")
        ledger = pd.read_csv(folder / e["file"])
        out.append(Snapshot(e["title"], e["file"], e["config"], e["command"], e["hardware"], ledger))
    return out


def _num(x: float, signed: bool) -> str:
    return f"{x:+.3f}".replace("-", "−") if signed else f"{x:.2f}"


def cell(rows: pd.DataFrame) -> str:
    """The verdict(s) of one claim and variant in one snapshot: 'reproduced: +0.012 [+0.004, +0.020] (mnist)', or
    'not measured (<the reason's first clause>)'; one entry per dataset; '—' when the snapshot has no such row."""
    parts = []
    for _, r in rows.iterrows():
        if r["verdict"] == NOT_MEASURED or pd.isna(r["effect"]):
            why = str(r["reason"]).split(":")[0].strip() if r["verdict"] == NOT_MEASURED else ""
            parts.append(f"{r['verdict']} ({why})" if why else str(r["verdict"]))
            continue
        signed = r["rule"] != "most_cases"
        text = f"{r['verdict']}: {_num(float(r['effect']), signed)}"
        if not (pd.isna(r["ci_low"]) or pd.isna(r["ci_high"])):
            text += f" [{_num(float(r['ci_low']), signed)}, {_num(float(r['ci_high']), signed)}]"
        if rows["dataset"].nunique() > 1 or r["dataset"] in ("mnist", "fashion_mnist"):
            text += f" ({r['dataset']})"
        parts.append(text)
    return "; ".join(parts) if parts else "—"


def summary_rows(snapshots: Sequence[Snapshot]) -> list[list[str]]:
    """[claim, variant, one cell per snapshot] for every (claim, variant) in any snapshot, in `CLAIMS` order."""
    keys: dict[tuple[str, str], None] = {}
    order = {c: i for i, c in enumerate(CLAIMS)}
    for s in snapshots:
        for c, v in zip(s.ledger["claim_id"], s.ledger["variant"], strict=True):
            keys[(str(c), str(v))] = None
    ranked = sorted(keys, key=lambda k: (order.get(k[0], math.inf), VARIANTS.index(k[1]) if k[1] in VARIANTS else 9))
    out = []
    for claim_id, variant in ranked:
        claim = CLAIMS.get(claim_id)
        label = f"{claim.paper} — {claim.title}" if claim else claim_id
        cells = [
            cell(s.ledger[(s.ledger["claim_id"] == claim_id) & (s.ledger["variant"] == variant)]) for s in snapshots
        ]
        out.append([label, variant, *cells])
    return out


INTRO = (
    "Each published claim, checked by the claims ledger (`results/tables/claims.csv`; how: "
    "[docs/claims.md](docs/claims.md)): verdict, effect and 95 % interval per code variant. "
    "`inconclusive` = the data cannot tell at this sample size; `not measured` = the run lacks the experiment or data."
)


def render_markdown(snapshots: Sequence[Snapshot]) -> str:
    """The README block (without the markers)."""
    head = ["Claim", "Variant", *(f"{s.title} (`{s.config}`)" for s in snapshots)]
    lines = [
        "<!-- generated by `python -m anoloc.experiments.claims.readme` from docs/claims/; do not edit by hand -->",
        INTRO,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in summary_rows(snapshots)),
        "",
    ]
    for s in snapshots:
        lines.append(
            f"- **{s.title}**: `{s.command}` — data: {s.data}; hardware: {s.hardware} (`docs/claims/{s.file}`)."
        )
    return "\n".join(lines)


def render_rst(snapshots: Sequence[Snapshot]) -> str:
    """The report block (without the markers): the same table as an RST list-table."""
    intro = INTRO.replace("[docs/claims.md](docs/claims.md)", "docs/claims.md").replace("`", "``")
    head = ["Claim", "Variant", *(f"{s.title} ({s.config})" for s in snapshots)]
    lines = [
        "",
        "**Reproduction summary** — " + intro,
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
    ]
    for row in [head, *summary_rows(snapshots)]:
        lines.append("   * - " + row[0])
        lines.extend(f"     - {c}" for c in row[1:])
    lines.append("")
    for s in snapshots:
        lines.append(f"- **{s.title}**: ``{s.command}`` — data: {s.data}; hardware: {s.hardware}.")
    lines.append("")
    return "\n".join(lines)


def replace_block(text: str, block: str, markers: tuple[str, str], name: str) -> str:
    """`text` with everything between the two marker lines replaced by `block`."""
    start, end = markers
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.S)
    if len(pattern.findall(text)) != 1:
        raise AnolocError(f"{name}: expected exactly one block between {start!r} and {end!r}")
    return pattern.sub(lambda _: f"{start}\n{block}\n{end}", text)


def current_block(text: str, markers: tuple[str, str]) -> str | None:
    """The text between the markers (None if absent)."""
    m = re.search(re.escape(markers[0]) + r"\n(.*?)\n" + re.escape(markers[1]), text, re.S)
    return None if m is None else m.group(1)


def render(kind: str, snapshots: Sequence[Snapshot]) -> str:
    return render_markdown(snapshots) if kind == "markdown" else render_rst(snapshots)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or `--check`) the summary blocks of README.md and report/workflow.rst under `--root`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="repository root (default: the current folder)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a block differs from the rendering")
    args = parser.parse_args(argv)
    root = Path(args.root)
    snapshots = load_snapshots(root / SNAPSHOT_DIR)
    stale = []
    for name, kind in TARGETS.items():
        path = root / name
        markers = MARKDOWN_MARKERS if kind == "markdown" else RST_MARKERS
        text = path.read_text()
        new = replace_block(text, render(kind, snapshots), markers, name)
        if new != text:
            stale.append(name)
            if not args.check:
                with atomic_path(path) as tmp:
                    Path(tmp).write_text(new)
    if args.check and stale:
        print(f"stale claims summary in {', '.join(stale)}: run python -m anoloc.experiments.claims.readme")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
