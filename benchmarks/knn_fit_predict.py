"""Fit + predict time and peak memory of SPADE, PaDiM and PatchCore for 100 and 400 training images at 224².

Each (method, n_train) runs in a fresh subprocess so that its peak RSS (ru_maxrss) is its own. Training images
are random 224² crops of scikit-image's brick texture, generated and fed batch by batch (never all in memory),
so the memory that grows with n_train is the method's own state: SPADE keeps every training feature map,
PatchCore every training patch until the coreset is chosen, PaDiM only running sums (constant).
"backbone s" is the time of the backbone's forward passes inside the fit (the floor of any fit), "fit/bb" the
ratio; "CPU" columns are the process's CPU seconds (user + system, all threads), which a machine shared with
other jobs inflates far less than the wall-clock seconds. PatchCore uses the partitioned coreset by default
(`--coreset greedy` for the exact greedy, which is quadratic in the number of patches).

    python benchmarks/knn_fit_predict.py                       # offline backbone, CPU
    python benchmarks/knn_fit_predict.py --methods padim --n-train 100 400 --threads 2
    python benchmarks/knn_fit_predict.py --methods padim --backbone resnet18 --random-weights 0 --padim-d 350
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

METHOD_PARAMS = {
    "spade": {"k": 50},
    "padim": {"d": 100, "eps": 0.01},
    "patchcore": {"coreset_fraction": 0.1, "reweight_b": 9},
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def worker(
    method: str,
    n_train: int,
    n_test: int,
    batch: int,
    backbone: str,
    device: str,
    threads: int,
    params: dict,
    random_weights: int | None,
) -> dict:
    import numpy as np
    import torch

    from anoloc.data.mvtec import texture
    from anoloc.features import FeatureExtractor
    from anoloc.knn import STAGES_NEEDED, build_method, preprocess

    torch.set_num_threads(threads)
    tex = texture("brick")

    def batches(n: int, seed: int):
        rng = np.random.default_rng(seed)
        for start in range(0, n, batch):
            ys, xs = rng.integers(0, 512 - 224, size=(2, min(batch, n - start)))
            crops = np.stack([tex[y : y + 224, x : x + 224] for y, x in zip(ys, xs, strict=True)])
            yield preprocess(crops, resize=224, crop=224)

    if random_weights is None:
        extractor = FeatureExtractor(backbone, STAGES_NEEDED[method])
    else:
        extractor = FeatureExtractor.random(backbone, STAGES_NEEDED[method], random_weights)
    model = build_method(method, extractor.to(device), params)
    backbone_s = backbone_cpu = 0.0
    features = model.features

    def timed_features(x):
        nonlocal backbone_s, backbone_cpu
        t, c = time.perf_counter(), time.process_time()
        out = features(x)
        backbone_s += time.perf_counter() - t
        backbone_cpu += time.process_time() - c
        return out

    model.features = timed_features
    rss_loaded = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(batches(n_train, 0))
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    fit_backbone_s, fit_backbone_cpu = backbone_s, backbone_cpu
    t0 = time.perf_counter()
    for x in batches(n_test, 1):
        model.predict(x)
    predict_s = time.perf_counter() - t0
    return {
        "method": method,
        "n_train": n_train,
        "fit_s": fit_s,
        "backbone_s": fit_backbone_s,
        "fit_cpu_s": fit_cpu,
        "backbone_cpu_s": fit_backbone_cpu,
        "predict_s": predict_s,
        "predict_ms_per_image": 1000 * predict_s / n_test,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": _rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=list(METHOD_PARAMS))
    ap.add_argument("--n-train", nargs="+", type=int, default=[100, 400])
    ap.add_argument("--n-test", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--random-weights", type=int, metavar="SEED", help="seeded random backbone weights")
    ap.add_argument("--coreset", choices=["partitioned", "greedy"], default="partitioned", help="PatchCore coreset")
    ap.add_argument("--padim-d", type=int, default=METHOD_PARAMS["padim"]["d"])
    ap.add_argument("--padim-eps", type=float, default=METHOD_PARAMS["padim"]["eps"])
    ap.add_argument("--worker", nargs=2, metavar=("METHOD", "N_TRAIN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    params = {
        "spade": METHOD_PARAMS["spade"],
        "padim": {"d": args.padim_d, "eps": args.padim_eps},
        "patchcore": {**METHOD_PARAMS["patchcore"], "coreset": args.coreset},
    }
    common = (args.n_test, args.batch, args.backbone, args.device, args.threads)
    if args.worker:
        method = args.worker[0]
        print(json.dumps(worker(method, int(args.worker[1]), *common, params[method], args.random_weights)))
        return
    rows = []
    t_all = time.perf_counter()
    for method in args.methods:
        for n in args.n_train:
            cmd = [sys.executable, __file__, "--worker", method, str(n), "--n-test", str(args.n_test)]
            cmd += ["--batch", str(args.batch), "--backbone", args.backbone, "--device", args.device]
            cmd += ["--threads", str(args.threads), "--coreset", args.coreset]
            cmd += ["--padim-d", str(args.padim_d), "--padim-eps", str(args.padim_eps)]
            if args.random_weights is not None:
                cmd += ["--random-weights", str(args.random_weights)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"done {method} n={n}", file=sys.stderr, flush=True)
    weights = "ImageNet" if args.random_weights is None else f"random weights (seed {args.random_weights})"
    print(
        f"\nbackbone {args.backbone} ({weights}), {args.device}, {args.threads} threads, 224² input, "
        f"{args.n_test} test images; padim d={args.padim_d} eps={args.padim_eps}, patchcore {args.coreset} coreset; "
        f"total {time.perf_counter() - t_all:.0f} s"
    )
    head = ("method", "n_train", "fit s", "backbone s", "fit/bb", "fit CPU s", "backbone CPU s", "fit/bb CPU")
    head += ("predict s", "ms/img", "RSS loaded MB", "peak RSS MB")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print(
            f"| {r['method']} | {r['n_train']} | {r['fit_s']:.1f} | {r['backbone_s']:.1f} | "
            f"{r['fit_s'] / r['backbone_s']:.2f} | {r['fit_cpu_s']:.1f} | {r['backbone_cpu_s']:.1f} | "
            f"{r['fit_cpu_s'] / r['backbone_cpu_s']:.2f} | {r['predict_s']:.1f} | {r['predict_ms_per_image']:.0f} | "
            f"{r['rss_after_load_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    for method in args.methods:
        fits = {r["n_train"]: r for r in rows if r["method"] == method}
        if len(fits) >= 2:
            lo, hi = min(fits), max(fits)
            print(
                f"{method}: fit n={hi} / n={lo}: {fits[hi]['fit_s'] / fits[lo]['fit_s']:.2f} (wall), "
                f"{fits[hi]['fit_cpu_s'] / fits[lo]['fit_cpu_s']:.2f} (CPU)"
            )


if __name__ == "__main__":
    main()
