"""Coreset selection: the batched exact greedy equals the textbook one-at-a-time greedy; the partitioned greedy
equals its definition (greedy within cells, one global order) and matches the exact greedy's AUROC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anoloc.data.mvtec import add_defect, normal_tile, texture
from anoloc.features import FeatureExtractor
from anoloc.knn import PatchCore, preprocess
from anoloc.knn.coreset import greedy_coreset, kmeans_cells, partitioned_coreset
from anoloc.metrics import auroc
from tests.fake_extractor import FakeExtractor

SIZE = 128


def textbook_greedy(x: np.ndarray, n: int, start: int = 0) -> tuple[list[int], list[float]]:
    """One pick per pass over all rows, float64: (picks, squared distance of each pick when picked)."""
    d = np.full(len(x), np.inf)
    picks, values = [start], [np.inf]
    for _ in range(1, n):
        d = np.minimum(d, ((x - x[picks[-1]]) ** 2).sum(1))
        d[picks] = -np.inf
        picks.append(int(np.argmax(d)))
        values.append(float(d[picks[-1]]))
    return picks, values


def _clusters(m: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(12, dim))
    return centres[rng.integers(0, 12, size=m)] + rng.normal(scale=rng.uniform(0.2, 2.0, size=(m, 1)), size=(m, dim))


def test_batched_greedy_equals_textbook_greedy():
    x = _clusters(600, 5, seed=0)
    expected, _ = textbook_greedy(x, 150)
    for pool in (1, 8, 256):  # one, a few and all picks of a pass from the candidate pool
        assert greedy_coreset(torch.from_numpy(x), 150, pool=pool).tolist() == expected
    # float32 input: the same set up to rounding ties (none here)
    assert set(greedy_coreset(torch.from_numpy(x).float(), 150).tolist()) == set(expected)
    assert greedy_coreset(torch.from_numpy(x), 700).shape == (600,)


def test_partitioned_is_greedy_within_cells_in_one_global_order():
    x = torch.from_numpy(_clusters(900, 4, seed=1))
    cells = kmeans_cells(x - x.mean(0), 200, seed=0)
    assert sorted(torch.cat(cells).tolist()) == list(range(900))  # a partition of the rows
    assert len(cells) >= 4 and max(len(c) for c in cells) <= 400
    # reference: the textbook greedy of each cell (from its first row), then the n largest pick values overall
    candidates = []
    for cell in cells:
        picks, values = textbook_greedy(x[cell].numpy(), len(cell))
        candidates += [(v, int(cell[p])) for p, v in zip(picks, values, strict=True)]
    n = 120
    ref = {row for _, row in sorted(candidates, key=lambda t: -t[0])[:n]}
    ours = partitioned_coreset(x, n, cell_size=200, seed=0)
    assert len(ours) == n and set(ours.tolist()) == ref
    # one cell: exactly the greedy
    assert torch.equal(partitioned_coreset(x, n, cell_size=1000), greedy_coreset(x, n))


def _as_batch(tiles: list[np.ndarray]) -> torch.Tensor:
    return preprocess(np.stack(tiles).astype(np.uint8), resize=SIZE, crop=SIZE)


def test_partitioned_auroc_matches_exact_greedy():
    """Brick tiles with synthetic defects, the offline ImageNet backbone: image and pixel AUROC of the two coresets
    agree to 0.005 (the partitioned one on 5 cells)."""
    rng = np.random.default_rng(0)
    tex = texture("brick")
    train = _as_batch([np.clip(normal_tile(tex, SIZE, rng), 0, 255) for _ in range(40)])
    good = [np.clip(normal_tile(tex, SIZE, rng), 0, 255) for _ in range(20)]
    bad = [add_defect(normal_tile(tex, SIZE, rng), kind, rng) for kind in ("scratch", "hole", "contrast") * 7]
    test = _as_batch(good + [img for img, _ in bad])
    labels = np.r_[np.zeros(len(good)), np.ones(len(bad))]
    masks = np.concatenate([np.zeros((len(good), SIZE, SIZE), bool), np.stack([m for _, m in bad])])
    fe = FeatureExtractor("efficientnet_lite0", PatchCore.stages)
    results, image_scores = {}, {}
    for name, params in {"greedy": {}, "partitioned": {"coreset": "partitioned", "coreset_cell_size": 2048}}.items():
        model = PatchCore(fe, coreset_fraction=0.1, **params).fit(train.split(20))
        assert model.bank.shape[0] == int(0.1 * 40 * (SIZE // 8) ** 2)
        scores, maps = model.predict(test)
        results[name] = (auroc(labels, scores.numpy()), auroc(masks.ravel(), maps.numpy().ravel()))
        image_scores[name] = scores.numpy()
    (img_e, pix_e), (img_p, pix_p) = results["greedy"], results["partitioned"]
    assert img_e > 0.8 and pix_e > 0.8  # the task is solvable, so the comparison means something
    assert abs(img_p - img_e) <= 0.005 and abs(pix_p - pix_e) <= 0.005, results
    # beyond the AUROC: the image scores themselves differ by a few percent at most
    rel = np.abs(image_scores["partitioned"] / image_scores["greedy"] - 1)
    assert rel.max() < 0.1


def test_unknown_coreset_option():
    with pytest.raises(ValueError, match="coreset must be one of"):
        PatchCore(FakeExtractor(), coreset="random")
