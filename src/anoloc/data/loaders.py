"""In-memory batch iterators (much faster than a per-item DataLoader for small images)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

Batch = tuple[torch.Tensor, ...]


class TensorBatches:
    """Iterate over aligned tensors in (optionally shuffled) mini-batches.

    Shuffling draws from torch's global RNG at the start of each pass, so a pass is fully
    determined by the RNG state (the training loop reseeds it per epoch, which makes resume exact).
    `transform` is applied to each batch tuple (e.g. vectorised per-sample augmentation).
    """

    def __init__(
        self,
        tensors: Sequence[torch.Tensor],
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        transform: Callable[[Batch], Batch] | None = None,
    ) -> None:
        n = {len(t) for t in tensors}
        if len(n) != 1:
            raise ValueError(f"tensors must have the same length, got {sorted(n)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors = tuple(tensors)
        self.n = n.pop()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(self.n) if self.shuffle else None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min((b + 1) * self.batch_size, self.n))
            idx = order[sl] if order is not None else None
            batch = tuple(t[idx] if idx is not None else t[sl] for t in self.tensors)
            yield self.transform(batch) if self.transform else batch
