"""anoloc.io: atomic writers (nothing half-written on error) and a clear error for an unreadable .npz."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anoloc.io import load_npz, save_json, save_npz, write_csv
from anoloc.utils import AnolocError


def test_writers_roundtrip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.123456789, np.nan]})
    write_csv(df, tmp_path / "t" / "x.csv")
    assert (tmp_path / "t" / "x.csv").read_text() == "a,b\n1,0.123457\n2,\n"
    save_json({"k": np.float32(0.5), "p": tmp_path}, tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text()) == {"k": 0.5, "p": str(tmp_path)}
    arrays = {"x": np.arange(5), "s": np.array("name")}
    for compress in (True, False):
        save_npz(tmp_path / f"{compress}.npz", arrays, compress=compress)
        back = load_npz(tmp_path / f"{compress}.npz")
        assert set(back) == {"x", "s"} and np.array_equal(back["x"], arrays["x"]) and str(back["s"]) == "name"


def test_failed_write_leaves_nothing(tmp_path):
    class Boom:
        def to_csv(self, *args, **kwargs):
            with open(args[0], "w") as fh:
                fh.write("half")
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_csv(Boom(), tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_npz_names_the_file(tmp_path):
    bad = tmp_path / "scores.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(AnolocError, match=r"scores\.npz is not a readable score file.*delete it and rerun"):
        load_npz(bad, "score file")


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".x.csv.abc123.csv"  # what atomic_path leaves when its process is SIGKILLed mid-write
    stale.write_text("half")
    other = tmp_path / ".y.csv.abc123.csv"  # another output's temporary file is not touched
    other.write_text("half")
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".y.csv.abc123.csv", "x.csv"]
