"""The order of the training sequences: one random permutation per epoch, kept compact.

The Trainer's default sampler (torch's ``RandomSampler``, which accelerate swaps for its
``SeedableRandomSampler``) turns each epoch's permutation into a Python list: 36 bytes a
sequence, half a gigabyte for hg38's 15 million windows. ``EpochPermutation`` draws the
same permutation from the same seed (the initial seed plus the epoch, as accelerate's) and
keeps it as one int64 array: 8 bytes a sequence, the same order.
"""

import torch


class EpochPermutation(torch.utils.data.Sampler):
    """Indices ``0..n-1`` in a fresh random order each epoch, reproducible from ``seed``."""

    def __init__(self, n, seed=None):
        self.n = n
        # accelerate's default: torch's initial seed, which transformers' set_seed has set.
        self.initial_seed = torch.random.initial_seed() if seed is None else seed
        self.epoch = 0

    def __len__(self):
        return self.n

    def __iter__(self):
        generator = torch.Generator()
        generator.manual_seed(self.initial_seed + self.epoch)
        order = torch.randperm(self.n, generator=generator).numpy()
        for index in order:
            yield int(index)
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch):
        """The epoch whose order the next pass gives (the Trainer sets it on resuming)."""
        self.epoch = epoch
