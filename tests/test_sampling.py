"""The pretraining order: the permutations accelerate's sampler gives, epoch by epoch, held as
one array instead of a Python list."""

import torch
from accelerate.data_loader import SeedableRandomSampler
from dnalm.training.sampling import EpochPermutation


def test_same_order_as_accelerates_sampler_every_epoch():
    torch.manual_seed(42)  # what transformers' set_seed does before the Trainer builds its sampler
    ours = EpochPermutation(1000)
    theirs = SeedableRandomSampler(data_source=range(1000), generator=None)
    for epoch in range(3):
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        order = list(ours)
        assert order == list(theirs)
        assert sorted(order) == list(range(1000)) and all(type(i) is int for i in order)
    assert list(EpochPermutation(1000, seed=7)) != list(EpochPermutation(1000, seed=8))


def test_an_epoch_ends_by_moving_to_the_next():
    sampler = EpochPermutation(50, seed=3)
    first, second = list(sampler), list(sampler)
    assert first != second and sampler.epoch == 2
    sampler.set_epoch(0)
    assert list(sampler) == first

