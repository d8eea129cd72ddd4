"""anoloc vs anomalib, PaDiM and PatchCore side by side: identical images, identical backbone weights.

The images are one class of the offline MVTec stand-in (`anoloc.data.mvtec.write_synthetic`: 256² texture tiles,
synthetic defects with exact masks), preprocessed once (resize 256, centre crop 224, ImageNet normalisation) and
handed as the same tensors to both tools. The backbone is `anoloc.features.random_backbone(name, seed)`
(torchvision's own random initialisation under the seed: no download), loaded as is into anoloc and, by state dict,
into anomalib's timm backbone (same parameter names; the load is checked). Each (tool, method) runs in its own
subprocess, so "peak RSS" (ru_maxrss) is that run's own. Settings are matched: PaDiM with the same random channel
subset (anomalib's `idx` set to anoloc's), ε 0.01, blur σ 4; PatchCore with layers 2+3, 10 % coreset, b = 9, blur σ 4.
The anomalib PatchCore run also scores the test images with anoloc's memory bank ("anomalib on anoloc's bank"),
which separates the coreset from the scoring.

anomalib is an optional extra (`pip install -e '.[bench]'`); without it the script says so and exits (status 0).

    python benchmarks/peers.py                                          # PaDiM resnet18 d=100, PatchCore WRN50
    python benchmarks/peers.py --methods patchcore --patchcore-backbone resnet18 --n-train 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


# ------------------------------------------------------------------------------------------------ data
def make_data(path: Path, cls: str, n_train: int, n_test_good: int, n_test_per_defect: int, seed: int) -> dict:
    """Write the stand-in class, preprocess every image once, save tensors + labels + masks to `path`."""
    import numpy as np
    import torch

    from anoloc.data import mvtec as mvtec_data
    from anoloc.knn import preprocess, preprocess_masks

    with tempfile.TemporaryDirectory(prefix="peers_data_") as tmp:
        mvtec_data.write_synthetic(
            tmp, classes=[cls], n_train=n_train, n_test_good=n_test_good, n_test_per_defect=n_test_per_defect, seed=seed
        )
        train, test = mvtec_data.class_split(tmp, cls)
        prep = {"resize": 256, "crop": 224}
        x_train = torch.cat([preprocess(mvtec_data.read_image(p)[None], **prep) for p in train])
        raw = [mvtec_data.read_image(t.path) for t in test]
        x_test = torch.cat([preprocess(r[None], **prep) for r in raw])
        masks = torch.cat(
            [
                preprocess_masks(mvtec_data.read_mask(t.mask_path, r.shape[:2])[None], **prep)
                for t, r in zip(test, raw, strict=True)
            ]
        )
        labels = np.array([t.label for t in test])
    data = {"train": x_train, "test": x_test, "masks": masks, "labels": torch.from_numpy(labels)}
    torch.save(data, path)
    return {"n_train": len(x_train), "n_test": len(x_test), "n_anomalous": int(labels.sum())}


# ---------------------------------------------------------------------------------------------- worker
def _load_into_timm(timm_net, torchvision_net) -> None:
    """Copy torchvision ResNet weights into anomalib's timm feature extractor (same names); every timm tensor
    must be covered."""
    state = torchvision_net.state_dict()
    missing, _unexpected = timm_net.load_state_dict(state, strict=False)
    if missing:
        raise RuntimeError(f"timm backbone parameters without a torchvision counterpart: {missing[:5]}")


def _channels(extractor, d: int, seed: int):
    """anoloc PaDiM's random channel subset as global indices into the layer1–3 concatenation."""
    import torch

    from anoloc.knn import PaDiM

    padim = PaDiM(extractor, d=d, seed=seed)
    idx, off = [], 0
    for s in padim.stages:
        idx.append(padim.channel_idx[s] + off)
        off += extractor.channels[s]
    return torch.cat(idx)


def _seed_spread(model, extractor, data: dict, args: argparse.Namespace) -> list[dict]:
    """Image / pixel AUROC of anoloc PatchCore over `args.seed_spread` further coreset draws (projection seeds
    1..N) on the same training patches and test features: how much the coreset draw alone moves the AUROC."""
    import torch

    from anoloc.knn import PatchCore
    from anoloc.metrics import auroc

    train_patches = [model.flatten(model.embed(model.features(x))) for x in data["train"].split(args.batch)]
    test_feats = [model.features(x) for x in data["test"].split(args.batch)]
    out = []
    for seed in range(1, args.seed_spread + 1):
        other = PatchCore(extractor, coreset_fraction=0.1, reweight_b=9, blur_sigma=4, coreset=args.coreset, seed=seed)
        other._patches = list(train_patches)
        with torch.no_grad():
            other._finalise(len(data["train"]))
            other.fitted = True
            scores, maps = zip(*(other._predict(f, tuple(data["test"].shape[-2:])) for f in test_feats), strict=True)
        out.append(
            {
                "seed": seed,
                "image_auroc": auroc(data["labels"].numpy(), torch.cat(scores).numpy()),
                "pixel_auroc": auroc(data["masks"].numpy().ravel(), torch.cat(maps).numpy().ravel()),
            }
        )
    return out


def worker(args: argparse.Namespace) -> dict:
    import torch

    from anoloc.features import FeatureExtractor, random_backbone
    from anoloc.metrics import auroc

    torch.set_num_threads(args.threads)
    data = torch.load(args.data)
    tool, method = args.worker
    backbone = args.padim_backbone if method == "padim" else args.patchcore_backbone
    layers = ["layer1", "layer2", "layer3"] if method == "padim" else ["layer2", "layer3"]
    net = random_backbone(backbone, args.seed)
    train, test = data["train"].split(args.batch), data["test"].split(args.batch)
    extra: dict = {}
    bank_file = Path(args.data).with_name(f"anoloc_{method}_bank.pt")
    if tool == "anoloc":
        from anoloc.knn import PaDiM, PatchCore

        extractor = FeatureExtractor(backbone, layers, model=net, weights_label=f"random-seed{args.seed}")
        if method == "padim":
            model = PaDiM(extractor, d=args.padim_d, eps=0.01, seed=args.seed, blur_sigma=4)
        else:
            model = PatchCore(
                extractor, coreset_fraction=0.1, reweight_b=9, blur_sigma=4, coreset=args.coreset, seed=args.seed
            )
        rss_loaded = _rss_mb()
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores, maps = zip(*(model.predict(x) for x in test), strict=True)
        predict_s = time.perf_counter() - t0
        if method == "patchcore":
            torch.save({"bank": model.bank, "scores": torch.cat(scores)}, bank_file)
        if method == "patchcore" and args.seed_spread:
            extra["seed_spread"] = _seed_spread(model, extractor, data, args)
    else:
        torch.manual_seed(args.seed)  # anomalib draws its coreset start (and PaDiM channels, replaced below) from it
        if method == "padim":
            from anomalib.models.image.padim.torch_model import PadimModel

            model = PadimModel(backbone=backbone, layers=layers, pre_trained=False, n_features=args.padim_d)
            _load_into_timm(model.feature_extractor.feature_extractor, net)
            probe = FeatureExtractor(backbone, layers, model=random_backbone(backbone, args.seed))
            model.idx = _channels(probe, args.padim_d, args.seed)
        else:
            from anomalib.models.image.patchcore.torch_model import PatchcoreModel

            model = PatchcoreModel(layers=layers, backbone=backbone, pre_trained=False, num_neighbors=9)
            _load_into_timm(model.feature_extractor.feature_extractor, net)
        rss_loaded = _rss_mb()
        t0 = time.perf_counter()
        model.train()
        with torch.no_grad():
            for x in train:
                model(x)
            if method == "padim":
                model.fit()
            else:
                model.subsample_embedding(0.1)
        fit_s = time.perf_counter() - t0
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            outs = [model(x) for x in test]
        predict_s = time.perf_counter() - t0
        scores = [o.pred_score.reshape(-1) for o in outs]
        maps = [o.anomaly_map.reshape(len(o.pred_score), *o.anomaly_map.shape[-2:]) for o in outs]
        if method == "patchcore" and bank_file.is_file():
            theirs = torch.load(bank_file)
            model.memory_bank = theirs["bank"]
            with torch.no_grad():
                swapped = [model(x) for x in test]
            s_sw = torch.cat([o.pred_score.reshape(-1) for o in swapped])
            m_sw = torch.cat([o.anomaly_map.reshape(-1, *o.anomaly_map.shape[-2:]) for o in swapped])
            extra = {
                "bank_swap_image_auroc": auroc(data["labels"].numpy(), s_sw.numpy()),
                "bank_swap_pixel_auroc": auroc(data["masks"].numpy().ravel(), m_sw.numpy().ravel()),
                "bank_swap_max_rel_score_diff": float((s_sw / theirs["scores"] - 1).abs().max()),
            }
    scores, maps = torch.cat(scores), torch.cat(maps)
    return {
        "tool": tool,
        "method": method,
        "backbone": backbone,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": _rss_mb(),
        "image_auroc": auroc(data["labels"].numpy(), scores.numpy()),
        "pixel_auroc": auroc(data["masks"].numpy().ravel(), maps.numpy().ravel()),
        **extra,
    }


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=["padim", "patchcore"], choices=["padim", "patchcore"])
    ap.add_argument("--cls", default="brick", help="stand-in class (brick, grass, gravel)")
    ap.add_argument("--n-train", type=int, default=100)
    ap.add_argument("--n-test-good", type=int, default=20)
    ap.add_argument("--n-test-per-defect", type=int, default=20, help="× 3 defect kinds")
    ap.add_argument("--padim-backbone", default="resnet18")
    ap.add_argument("--padim-d", type=int, default=100)
    ap.add_argument("--patchcore-backbone", default="wide_resnet50_2")
    ap.add_argument("--coreset", default="greedy", choices=["greedy", "partitioned"], help="anoloc's coreset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument(
        "--seed-spread",
        type=int,
        default=0,
        metavar="N",
        help="anoloc PatchCore only: AUROC over N further coreset draws (projection seeds 1..N), no anomalib run",
    )
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.seed_spread:
        with tempfile.TemporaryDirectory(prefix="peers_") as tmp:
            data = Path(tmp) / "data.pt"
            make_data(data, args.cls, args.n_train, args.n_test_good, args.n_test_per_defect, args.seed)
            args.worker, args.data = ("anoloc", "patchcore"), str(data)
            row = worker(args)
        print(f"\nanoloc PatchCore {args.patchcore_backbone}, {args.coreset} coreset, coreset draws:")
        print("| projection seed | image AUROC | pixel AUROC |\n|---|---|---|")
        print(f"| {args.seed} | {row['image_auroc']:.4f} | {row['pixel_auroc']:.4f} |")
        for r in row["seed_spread"]:
            print(f"| {r['seed']} | {r['image_auroc']:.4f} | {r['pixel_auroc']:.4f} |")
        return
    if importlib.util.find_spec("anomalib") is None:
        print("peers.py: anomalib is not installed, so there is nothing to compare with: skipped.")
        print("Install the benchmark extra (pip install -e '.[bench]') and run again.")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="peers_") as tmp:
        data = Path(tmp) / "data.pt"
        info = make_data(data, args.cls, args.n_train, args.n_test_good, args.n_test_per_defect, args.seed)
        common = ["--padim-backbone", args.padim_backbone, "--padim-d", str(args.padim_d)]
        common += ["--patchcore-backbone", args.patchcore_backbone, "--coreset", args.coreset]
        common += ["--seed", str(args.seed), "--threads", str(args.threads), "--batch", str(args.batch)]
        for method in args.methods:
            for tool in ("anoloc", "anomalib"):
                cmd = [sys.executable, __file__, *common, "--worker", tool, method, "--data", str(data)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"peers.py: the {tool} {method} run failed")
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(f"done {tool} {method}", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "data": info, "rows": rows}))
    import anomalib

    print(
        f"\nstand-in class {args.cls}: {info['n_train']} training, {info['n_test']} test images "
        f"({info['n_anomalous']} anomalous), 224²; random backbone weights (seed {args.seed}); {args.threads} threads; "
        f"anomalib {anomalib.__version__}; anoloc PatchCore coreset: {args.coreset}"
    )
    head = ("method", "backbone", "tool", "fit s", "predict s", "peak RSS MB", "image AUROC", "pixel AUROC")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for method in args.methods:
        ours, theirs = [
            next(r for r in rows if r["method"] == method and r["tool"] == t) for t in ("anoloc", "anomalib")
        ]
        for r in (ours, theirs):
            print(
                f"| {method} | {r['backbone']} | {r['tool']} | {r['fit_s']:.1f} | {r['predict_s']:.1f} | "
                f"{r['peak_rss_mb']:.0f} | {r['image_auroc']:.4f} | {r['pixel_auroc']:.4f} |"
            )
        print(
            f"| {method} | | anoloc / anomalib | {ours['fit_s'] / theirs['fit_s']:.2f} | "
            f"{ours['predict_s'] / theirs['predict_s']:.2f} | {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f} | "
            f"{ours['image_auroc'] - theirs['image_auroc']:+.4f} | {ours['pixel_auroc'] - theirs['pixel_auroc']:+.4f} |"
        )
        if "bank_swap_image_auroc" in theirs:
            print(
                f"| {method} | | anomalib on anoloc's bank | | | | {theirs['bank_swap_image_auroc']:.4f} | "
                f"{theirs['bank_swap_pixel_auroc']:.4f} |"
            )
    for r in rows:
        if "bank_swap_max_rel_score_diff" in r:
            print(
                f"\nanomalib's image scores on anoloc's bank vs anoloc's: max relative difference "
                f"{r['bank_swap_max_rel_score_diff']:.2e}"
            )


if __name__ == "__main__":
    main()
