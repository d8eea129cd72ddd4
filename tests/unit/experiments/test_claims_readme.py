"""The reproduction summary: the README and report blocks equal the rendering of the committed ledger snapshots, and
the renderer formats, orders and rewrites as documented."""

from __future__ import annotations

import math

import pandas as pd
import yaml

from anoloc.experiments.claims import readme
from anoloc.experiments.claims.tables import CLAIMS, LEDGER_COLUMNS
from tests.helpers import ROOT


def test_readme_and_report_blocks_match_the_committed_snapshots():
    snapshots = readme.load_snapshots(ROOT / readme.SNAPSHOT_DIR)
    assert [s.file for s in snapshots] == ["demo.csv", "fashion_mnist_paper.csv"]
    text = (ROOT / "README.md").read_text()
    assert readme.current_block(text, readme.MARKDOWN_MARKERS) == readme.render_markdown(snapshots), (
        "README.md is stale: run python -m anoloc.experiments.claims.readme"
    )
    rst = (ROOT / "report" / "workflow.rst").read_text()
    assert readme.current_block(rst, readme.RST_MARKERS) == readme.render_rst(snapshots)
    # every snapshot is a complete ledger of every claim
    for s in snapshots:
        assert list(s.ledger.columns) == LEDGER_COLUMNS
        assert set(s.ledger["claim_id"]) == set(CLAIMS)


def _ledger(rows: list[dict]) -> pd.DataFrame:
    base = dict.fromkeys(LEDGER_COLUMNS, "") | {"ci_low": math.nan, "ci_high": math.nan}
    return pd.DataFrame([base | r for r in rows])


def test_cells_are_formatted_per_rule():
    most = _ledger([{"claim_id": "kl_elbo_beat_rec", "dataset": "mnist", "variant": "corrected", "rule": "most_cases",
                     "effect": 0.9, "ci_low": 0.6, "ci_high": 1.0, "verdict": "reproduced"}])  # fmt: skip
    assert readme.cell(most) == "reproduced: 0.90 [0.60, 1.00] (mnist)"
    diff = _ledger([{"claim_id": "cells_supn_beats_diag", "dataset": "cells", "variant": "released",
                     "rule": "directional", "effect": -0.0123, "ci_low": -0.05, "ci_high": 0.02,
                     "verdict": "inconclusive"}])  # fmt: skip
    assert readme.cell(diff) == "inconclusive: −0.012 [−0.050, +0.020]"
    missing = _ledger([{"claim_id": "mvtec_spade_published", "dataset": "mvtec", "variant": "corrected",
                        "rule": "within_tolerance", "effect": math.nan, "verdict": "not measured",
                        "reason": "mvtec.enabled is false: no MVTec run"}])  # fmt: skip
    assert readme.cell(missing) == "not measured (mvtec.enabled is false)" and readme.cell(missing.iloc[:0]) == "—"


def test_main_rewrites_stale_blocks_and_check_reports_them(tmp_path):
    (tmp_path / "docs" / "claims").mkdir(parents=True)
    (tmp_path / "report").mkdir()
    ledger = _ledger([
        {"claim_id": c, "dataset": "d", "variant": v, "rule": "directional", "effect": 0.1, "ci_low": 0.05,
         "ci_high": 0.15, "verdict": "reproduced", "data": "toy data"}
        for c in ("cells_supn_beats_l2", "kl_elbo_beat_rec") for v in ("released", "corrected")
    ])  # fmt: skip
    ledger.to_csv(tmp_path / "docs" / "claims" / "a.csv", index=False)
    index = [{"title": "A", "file": "a.csv", "config": "c.yaml", "command": "snakemake", "hardware": "a laptop"}]
    (tmp_path / "docs" / "claims" / "snapshots.yaml").write_text(yaml.safe_dump(index))
    (tmp_path / "README.md").write_text("# x\n<!-- claims:start -->\nold\n<!-- claims:end -->\nrest\n")
    (tmp_path / "report" / "workflow.rst").write_text("intro\n\n.. claims:start\n\nold\n\n.. claims:end\n")
    assert readme.main(["--root", str(tmp_path), "--check"]) == 1
    assert readme.main(["--root", str(tmp_path)]) == 0
    assert readme.main(["--root", str(tmp_path), "--check"]) == 0
    text = (tmp_path / "README.md").read_text()
    assert text.startswith("# x\n<!-- claims:start -->\n") and text.endswith("<!-- claims:end -->\nrest\n")
    # rows in claim order (CLAIMS), then variant order (corrected, released); data and hardware named
    body = readme.current_block(text, readme.MARKDOWN_MARKERS)
    order = [ln.split(" | ")[:2] for ln in body.splitlines() if ln.startswith("| Zimmerer") or ln.startswith("| Vod")]
    assert [v for _, v in order] == ["corrected", "released", "corrected", "released"]
    assert "KL or ELBO beats Rec" in order[0][0] and "SUPN beats L2" in order[2][0]
    assert "data: toy data; hardware: a laptop" in body
    assert "reproduced: +0.100 [+0.050, +0.150]" in body
