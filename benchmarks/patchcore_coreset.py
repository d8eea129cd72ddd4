"""PatchCore coreset options side by side on the offline MVTec stand-in: image / pixel AUROC, covering radius and
selection time of the exact greedy vs the partitioned greedy (and a fixed 128-dim projection).

For each texture class the stand-in is generated (`anoloc.data.mvtec.write_synthetic`, the demo's settings unless
changed), the training and test features are extracted once, and every coreset option builds its memory bank from
the same patches. "radius" is the covering radius max_x min_{m ∈ bank} ‖x − m‖ over all training patches (the
quantity the greedy minimises) and "mean" the mean distance; both in feature units.

    python benchmarks/patchcore_coreset.py                                  # demo stand-in (40 training images)
    python benchmarks/patchcore_coreset.py --n-train 200 --cell-sizes 8192 32768
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from anoloc.data import mvtec as mvtec_data
from anoloc.features import FeatureExtractor
from anoloc.knn import PatchCore, preprocess, preprocess_masks
from anoloc.metrics import auroc


def covering(patches: torch.Tensor, bank: torch.Tensor, chunk: int = 8192) -> tuple[float, float]:
    """(max, mean) over the patches of the distance to the nearest bank row."""
    bsq = (bank * bank).sum(1)
    d = torch.cat(
        [
            torch.addmm(bsq.unsqueeze(0), p, bank.T, alpha=-2.0).amin(1).add_((p * p).sum(1)).clamp_(min=0).sqrt_()
            for p in patches.split(chunk)
        ]
    )
    return float(d.max()), float(d.mean())


def one_at_a_time(x: torch.Tensor, n: int) -> torch.Tensor:
    """The textbook greedy (one pass over all rows per pick, start row 0): the reference for the exact option."""
    sq = (x * x).sum(1)
    min_d = torch.full((x.shape[0],), float("inf"))
    picks, idx = [0], 0
    for _ in range(1, n):
        d2 = torch.addmm(sq.unsqueeze(0), x[idx : idx + 1], x.T, alpha=-2.0)[0] + sq[idx]
        min_d = torch.minimum(min_d, d2)
        min_d[idx] = -float("inf")
        idx = int(torch.argmax(min_d))
        picks.append(idx)
    return torch.tensor(picks)


def class_features(root: Path, cls: str, model: PatchCore, batch: int) -> tuple[list, torch.Tensor, np.ndarray, dict]:
    """Training feature dicts, test images (preprocessed), test labels and masks."""
    train, test = mvtec_data.class_split(root, cls)
    prep = {"resize": 256, "crop": 224}
    train_feats = []
    for i in range(0, len(train), batch):
        x = torch.cat([preprocess(mvtec_data.read_image(p)[None], **prep) for p in train[i : i + batch]])
        train_feats.append(model.features(x))
    raw = [mvtec_data.read_image(t.path) for t in test]
    x_test = torch.cat([preprocess(r[None], **prep) for r in raw])
    masks = torch.cat(
        [
            preprocess_masks(mvtec_data.read_mask(t.mask_path, r.shape[:2])[None], **prep)
            for t, r in zip(test, raw, strict=True)
        ]
    ).numpy()
    return train_feats, x_test, np.array([t.label for t in test]), masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", nargs="+", default=list(mvtec_data.TEXTURES))
    ap.add_argument("--n-train", type=int, default=40)
    ap.add_argument("--cell-sizes", nargs="+", type=int, default=[4096, 8192])
    ap.add_argument("--projection-128", action="store_true", help="also run the exact greedy on a 128-dim projection")
    ap.add_argument("--reference", action="store_true", help="check the exact bank against the one-at-a-time greedy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    options = [("greedy", {})] + [
        (f"partitioned {c}", {"coreset": "partitioned", "coreset_cell_size": c}) for c in args.cell_sizes
    ]
    if args.projection_128:
        options.append(("greedy, 128 dims", {"projection_dim": 128}))
    extractor = FeatureExtractor("efficientnet_lite0", PatchCore.stages)
    rows = []
    with tempfile.TemporaryDirectory(prefix="coreset_bench_") as tmp:
        mvtec_data.write_synthetic(tmp, classes=args.classes, n_train=args.n_train, n_test_good=10, n_test_per_defect=5)
        for cls in args.classes:
            probe = PatchCore(extractor)
            train_feats, x_test, labels, masks = class_features(Path(tmp), cls, probe, args.batch)
            for label, params in options:
                model = PatchCore(extractor, coreset_fraction=0.1, reweight_b=9, blur_sigma=4, **params)
                for f in train_feats:
                    model._fit_batch(f)
                patches = torch.cat(model._patches)
                t0 = time.perf_counter()
                model._finalise(len(train_feats))
                select_s = time.perf_counter() - t0
                model.fitted = True
                scores, maps = zip(*(model.predict(x) for x in x_test.split(args.batch)), strict=True)
                scores, maps = torch.cat(scores).numpy(), torch.cat(maps).numpy()
                radius, mean = covering(patches, model.bank)
                same = ""
                if label == "greedy" and args.reference:
                    ref = patches[one_at_a_time(patches, model.bank.shape[0])]
                    same = "yes" if set(map(tuple, ref.tolist())) == set(map(tuple, model.bank.tolist())) else "no"
                image, pixel = auroc(labels, scores), auroc(masks.ravel(), maps.ravel())
                rows.append((cls, label, patches.shape[0], image, pixel, radius, mean, select_s, same))
                print(f"done {cls} {label}", flush=True)
    print(f"\nefficientnet_lite0 (ImageNet), stand-in n_train={args.n_train}, coreset 10 %, {args.threads} thread(s)")
    head = ("class", "coreset", "patches", "image AUROC", "pixel AUROC", "radius", "mean", "select s", "= 1-at-a-time")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.1f} | {r[8]} |")


if __name__ == "__main__":
    main()
