"""SUPN log-likelihood speed: `anoloc.models.supn.log_prob` (padding + slicing) against a straightforward
torch.sparse implementation of the same maths (one block-diagonal sparse Lᵀ per batch, `torch.sparse.mm`),
forward + backward on the CPU; plus the sparse-triangular sampler.

    python benchmarks/supn_log_prob.py [--batch 64] [--size 128] [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from anoloc.models import supn


def sparse_log_prob(x, mean, log_diag, off_diag, connectivity=1):
    """The same log N(x; mean, (L Lᵀ)⁻¹) with torch.sparse: Lᵀr = S·(v ⊙ r[cols]), where (rows, cols, v) are
    the non-zeros of the block-diagonal Lᵀ (B·N × B·N) and S the constant sparse (B·N × nnz) incidence matrix
    S[row_k, k] = 1. (`torch.sparse.mm(Lᵀ, r)` with differentiable values of Lᵀ is not an option: its backward
    builds the dense (B·N)² gradient, 4 TB at batch 64 and 128×128.)"""
    b, _, h, w = x.shape
    n = h * w
    ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    p = (ii * w + jj).flatten()
    rows, cols, vals = [p], [p], [torch.exp(log_diag).reshape(b, n)]
    for f, (di, dj) in enumerate(supn.neighbour_offsets(connectivity)):
        ok = ((ii + di < h) & (jj + dj >= 0) & (jj + dj < w)).flatten()
        rows.append(p[ok])
        cols.append(p[ok] + di * w + dj)
        vals.append(off_diag[:, f].reshape(b, n)[:, ok])
    r1, c1 = torch.cat(rows), torch.cat(cols)
    nnz = len(r1)
    offs = (torch.arange(b) * n).repeat_interleave(nnz)
    row, col = r1.repeat(b) + offs, c1.repeat(b) + offs
    incidence = torch.sparse_coo_tensor(
        torch.stack([row, torch.arange(b * nnz)]),
        torch.ones(b * nnz, dtype=x.dtype),
        (b * n, b * nnz),
        check_invariants=False,
    )
    products = torch.cat(vals, 1).flatten() * (x - mean).flatten()[col]
    u = torch.sparse.mm(incidence, products.unsqueeze(1)).reshape(b, n)
    return -0.5 * n * math.log(2 * math.pi) + log_diag.reshape(b, n).sum(1) - 0.5 * (u**2).sum(1)


def time_fwd_bwd(fn, args, repeats):
    times = []
    for _ in range(repeats + 1):
        leaves = [a.detach().clone().requires_grad_() for a in args[:4]]
        t = time.perf_counter()
        fn(*leaves, connectivity=args[4]).sum().backward()
        times.append(time.perf_counter() - t)
    return 1000 * min(times[1:]), 1000 * sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    print(f"log_prob forward+backward, batch {a.batch}, {a.size}×{a.size}, CPU, {a.threads} thread(s); ms per batch")
    print(f"{'dtype':8} {'conn':>4} {'slicing min/median':>20} {'torch.sparse min/median':>25} {'speed-up':>9}")
    for dtype in (torch.float32, torch.float64):
        for c in (1, 2):
            f = supn.n_off_diagonals(c)
            shape = (a.batch, 1, a.size, a.size)
            args = [torch.randn(shape, generator=g, dtype=dtype) for _ in range(2)]
            args += [0.1 * torch.randn(shape, generator=g, dtype=dtype)]
            args += [0.1 * torch.randn(a.batch, f, a.size, a.size, generator=g, dtype=dtype), c]
            ref, got = sparse_log_prob(*args[:4], c), supn.log_prob(*args[:4], c)
            torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-2)
            fast = time_fwd_bwd(supn.log_prob, args, a.repeats)
            slow = time_fwd_bwd(sparse_log_prob, args, a.repeats)
            print(
                f"{str(dtype).split('.')[-1]:8} {c:>4} {fast[0]:>9.1f} / {fast[1]:>7.1f} "
                f"{slow[0]:>12.1f} / {slow[1]:>9.1f} {slow[1] / fast[1]:>8.1f}×"
            )
    print(f"\nsampler (scipy spsolve_triangular on Lᵀ), {a.size}×{a.size}, connectivity 1; ms per image")
    mean = torch.zeros(4, 1, a.size, a.size)
    ld, od = 0.1 * torch.randn(4, 1, a.size, a.size, generator=g), 0.1 * torch.randn(4, 4, a.size, a.size, generator=g)
    for n in (1, 10, 100):
        t = time.perf_counter()
        supn.sample(mean, ld, od, n, 1, generator=g)
        print(f"  {n:>3} samples per image: {1000 * (time.perf_counter() - t) / 4:8.1f} ms")


if __name__ == "__main__":
    main()
