"""Coreset selection for PatchCore's memory bank: greedy farthest-point (k-center) selection, exact or per cell.

Greedy k-center (Gonzalez 1985; PatchCore's "coreset"): start from one row, then repeatedly add the row whose
squared distance δ(x) = min_{c ∈ C} ‖x − c‖² to the chosen set C is largest. Choosing n of M rows costs
O(n·M·D): quadratic in the number of patches, since n is a fixed fraction of M.

`greedy_coreset` computes the exact sequence, several centres per pass over the data: the top-(k+1) rows by δ
form a candidate pool with threshold τ = the (k+1)-th largest δ; inside the pool the greedy runs on the pool's
own pairwise distances, and a pick is certain as long as its current δ exceeds τ (every row outside the pool
has δ ≤ τ, and δ only decreases). The pass then updates δ of all rows against all its picks at once, a matrix
product instead of one matrix-vector product per pick: same picks, 5–10× faster on a CPU.

`partitioned_coreset` (the fast, approximate option) splits the rows into k-means cells of at most about
`cell_size` rows and runs the greedy inside each cell, where a row counts as covered only by centres of its own
cell; the cells share one order: globally, the next pick is the row with the largest within-cell δ, so a dense
cell gets few centres and a spread-out one many (picks are collected in rounds with a falling threshold and
trimmed to exactly n by value, which gives the same set as picking one at a time). The cost is
O(n·cell_size·D), linear in M. With one cell (M ≤ cell_size) it is the exact greedy; with several, rows near a
cell border may get a centre of their own where the exact greedy would cover them from the next cell, so the
covering radius is a little larger for the same n (measured in `benchmarks/knn_fit_predict.py --coreset-check`).

Distances use ‖x‖² + ‖c‖² − 2 x·c in the input dtype after centring the rows (centring changes no distance and
keeps the cancellation error small); ties go to the candidate found first.
"""

from __future__ import annotations

import math

import torch


class FarthestPoints:
    """Greedy k-center state over the rows of `x` (M, D): squared distance `delta` of each row to the chosen set.

    `add(rows)` adds centres; `run(n_max, theta)` adds greedy picks, each with its δ at the time it was picked
    (`values`, non-increasing), until `n_max` centres are chosen or the largest δ falls below `theta`.
    """

    def __init__(self, x: torch.Tensor, pool: int = 256, chunk: int = 16384):
        self.x = x
        self.sq = (x * x).sum(1)
        self.delta = torch.full((x.shape[0],), math.inf, dtype=x.dtype, device=x.device)
        self.picks: list[int] = []
        self.values: list[float] = []
        self.pool = int(pool)
        self.chunk = int(chunk)

    def add(self, rows: torch.Tensor, values: list[float] | None = None) -> None:
        """Make `rows` centres: δ ← min(δ, ‖x − c‖²) over the new centres c, one matrix product per row chunk."""
        c, csq = self.x[rows], self.sq[rows]
        for r0 in range(0, self.x.shape[0], self.chunk):
            xs = self.x[r0 : r0 + self.chunk]
            d2 = torch.addmm(csq.unsqueeze(0), xs, c.T, alpha=-2.0).amin(1).add_(self.sq[r0 : r0 + self.chunk])
            torch.minimum(self.delta[r0 : r0 + self.chunk], d2, out=self.delta[r0 : r0 + self.chunk])
        self.delta[rows] = -math.inf  # never picked again (rounding can leave a chosen row slightly above 0)
        self.picks += rows.tolist()
        self.values += values if values is not None else [math.inf] * len(rows)

    def run(self, n_max: int, theta: float = -math.inf) -> None:
        m = self.x.shape[0]
        n_max = min(int(n_max), m)
        while len(self.picks) < n_max:
            k = min(self.pool, n_max - len(self.picks))
            vals, cand = torch.topk(self.delta, min(k + 1, m))
            if float(vals[0]) < theta:
                return
            tau = float(vals[k]) if vals.numel() > k else -math.inf
            cv, cand = vals[:k].clone(), cand[:k]
            cx, csq = self.x[cand], self.sq[cand]
            d_pool = torch.addmm(csq.unsqueeze(0) + csq.unsqueeze(1), cx, cx.T, alpha=-2.0)
            chosen: list[int] = []
            values: list[float] = []
            while len(chosen) < k:
                j = int(torch.argmax(cv))
                v = float(cv[j])
                if v == -math.inf or v < theta or (v <= tau and chosen):  # outside rows may be as far: new pass
                    break
                chosen.append(j)
                values.append(v)
                torch.minimum(cv, d_pool[j], out=cv)
                cv[j] = -math.inf
            if not chosen:
                return
            self.add(cand[chosen], values)


def _centred(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(0, keepdim=True)


def greedy_coreset(x: torch.Tensor, n: int, start: int = 0, pool: int = 256) -> torch.Tensor:
    """Indices of `n` rows of `x` (M, D) chosen by exact greedy farthest-point selection from row `start`,
    in the order picked (each pick is the row farthest from those before it)."""
    n = min(int(n), x.shape[0])
    fp = FarthestPoints(_centred(x), pool=pool)
    fp.add(torch.tensor([int(start)], device=x.device))
    fp.run(n)
    return torch.tensor(fp.picks[:n], dtype=torch.long)


def kmeans_cells(x: torch.Tensor, cell_size: int, seed: int = 0, iters: int = 10) -> list[torch.Tensor]:
    """Row indices of k-means cells with about `cell_size` rows each (Lloyd's algorithm from ⌈M/cell_size⌉
    seeded random rows, `iters` iterations); a cell larger than 2·cell_size is split again the same way."""
    m = x.shape[0]
    cells_n = -(-m // int(cell_size))
    if cells_n <= 1:
        return [torch.arange(m, device=x.device)]
    gen = torch.Generator().manual_seed(int(seed))
    centres = x[torch.randperm(m, generator=gen)[:cells_n].to(x.device)].clone()
    for _ in range(iters):
        assign = torch.addmm((centres * centres).sum(1).unsqueeze(0), x, centres.T, alpha=-2.0).argmin(1)
        counts = torch.bincount(assign, minlength=cells_n)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled].unsqueeze(1).to(x.dtype)
    order = torch.argsort(assign, stable=True)
    out = []
    for rows in torch.split(order, torch.bincount(assign, minlength=cells_n).tolist()):
        if len(rows) > 2 * cell_size:
            out += [rows[sub] for sub in kmeans_cells(x[rows], cell_size, seed + 1, iters)]
        elif len(rows):
            out.append(rows.sort().values)
    return out


def partitioned_coreset(x: torch.Tensor, n: int, cell_size: int = 32768, seed: int = 0) -> torch.Tensor:
    """Indices of `n` rows by greedy farthest-point selection within k-means cells of ≤ ~`cell_size` rows,
    cells ordered by one global δ threshold (module docstring). Each cell starts at its lowest row index.
    Falls back to `greedy_coreset` when there is one cell or fewer than 2 picks per cell."""
    m = x.shape[0]
    n = min(int(n), m)
    xc = _centred(x)
    cells = kmeans_cells(xc, cell_size, seed)
    if len(cells) == 1 or n < 2 * len(cells):
        return greedy_coreset(x, n)
    states = [FarthestPoints(xc[rows]) for rows in cells]
    for fp in states:
        fp.add(torch.zeros(1, dtype=torch.long, device=x.device))
    while (total := sum(len(fp.picks) for fp in states)) < n:
        delta = torch.cat([fp.delta for fp in states])
        theta = float(torch.topk(delta, n - total).values[-1])  # ≈ the δ at which the remaining picks end
        for fp in states:
            fp.run(fp.x.shape[0], theta)
    rows = torch.cat([cell[torch.tensor(fp.picks, device=cell.device)] for cell, fp in zip(cells, states, strict=True)])
    values = torch.tensor([v for fp in states for v in fp.values])
    return rows[torch.argsort(values, descending=True, stable=True)[:n].to(rows.device)].cpu()
