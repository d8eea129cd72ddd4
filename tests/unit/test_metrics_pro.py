"""AUPRO (per-region overlap up to FPR 0.3) against a direct threshold-by-threshold computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from anoloc.metrics import aupro, pro_curve


def _naive_curve(masks, maps):
    regions = []
    for i in range(masks.shape[0]):
        lab, n = ndimage.label(masks[i], structure=np.ones((3, 3)))
        regions += [(i, lab == j) for j in range(1, n + 1)]
    ok = ~masks
    fpr, pro = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        pred = maps >= t
        fpr.append((pred & ok).sum() / ok.sum())
        pro.append(np.mean([(pred[i] & r).sum() / r.sum() for i, r in regions]))
    return np.array(fpr), np.array(pro)


def _naive_aupro(masks, maps, limit=0.3):
    """Trapezoid over the curve's points with FPR ≤ limit, closed by linear interpolation at the limit."""
    fpr, pro = _naive_curve(masks, maps)
    keep = fpr <= limit
    j = int(np.argmax(fpr > limit))  # first point beyond the limit (the curve ends at FPR 1)
    y_lim = pro[j - 1] + (pro[j] - pro[j - 1]) * (limit - fpr[j - 1]) / (fpr[j] - fpr[j - 1]) if j else pro[-1]
    xs, ys = np.r_[fpr[keep], limit], np.r_[pro[keep], y_lim]
    return np.trapezoid(ys, xs) / limit


def _example(seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((3, 20, 20), dtype=bool)
    masks[0, 2:6, 3:9] = True
    masks[0, 12:15, 12:18] = True  # two regions in one image
    masks[1, 8:16, 1:5] = True
    maps = rng.normal(size=masks.shape) + 1.5 * masks
    return masks, np.round(maps, 1)  # rounding creates ties


def test_pro_curve_equals_direct_computation():
    masks, maps = _example(0)
    fpr, pro = pro_curve(masks, maps)
    ref_fpr, ref_pro = _naive_curve(masks, maps)
    np.testing.assert_allclose(fpr, ref_fpr, atol=1e-12)
    np.testing.assert_allclose(pro, ref_pro, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_aupro_equals_direct_integration(seed):
    masks, maps = _example(seed)
    assert aupro(masks, maps) == pytest.approx(_naive_aupro(masks, maps), abs=1e-12)
    assert aupro(masks, maps, fpr_limit=1.0) == pytest.approx(_naive_aupro(masks, maps, 1.0), abs=1e-12)


def test_aupro_extremes():
    masks, _ = _example(0)
    assert aupro(masks, masks.astype(float)) == pytest.approx(1.0)  # perfect map: PRO 1 at FPR 0
    assert aupro(masks, (~masks).astype(float)) == pytest.approx(0.0)
    assert np.isnan(aupro(np.zeros((2, 4, 4), bool), np.random.rand(2, 4, 4)))
    with pytest.raises(ValueError, match="shape"):
        aupro(masks, masks[:1].astype(float))
