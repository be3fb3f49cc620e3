"""A learning-rate schedule that ends when the run does: at its last step or its time budget.

The Trainer lays its schedule over every step of every epoch asked for. Under
``--time-budget`` those steps mostly never run (15 minutes of a 50-epoch run),
so the rate has barely decayed when the budget stops training. Here the
schedule's progress is whichever is further along: the share of the steps done
or the share of the time budget spent. The shapes are the Trainer's (linear,
cosine, constant, constant_with_warmup), laid over that progress.

The time share restarts with each process, as the budget does: a resumed run
lays the rest of its training over its new budget, from the peak rate again.
"""

import math

from torch.optim.lr_scheduler import LambdaLR

from dnalm.errors import DnalmError


def rate_multiplier(shape, warmup, progress):
    """The share of the peak learning rate at ``progress`` (0 to 1) of a run.

    ``warmup`` is the share of the run spent rising linearly to the peak
    (ignored by ``constant``, as the Trainer ignores it).
    """
    progress = min(max(progress, 0.0), 1.0)
    if shape == "constant":
        return 1.0
    if progress < warmup:
        return progress / warmup
    if shape == "constant_with_warmup":
        return 1.0
    after = (progress - warmup) / (1.0 - warmup)
    if shape == "linear":
        return 1.0 - after
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * after))
    raise DnalmError(f"unknown learning-rate schedule '{shape}'")


def budget_scheduler(optimizer, shape, warmup, total_steps, time_spent):
    """A ``LambdaLR`` over ``max(step / total_steps, time_spent())``.

    ``time_spent`` returns the share of the time budget used so far (0 to 1).
    """

    def multiplier(step):
        return rate_multiplier(shape, warmup, max(step / max(total_steps, 1), time_spent()))

    return LambdaLR(optimizer, multiplier)


class ScheduleWithinBudget:
    """A ``Trainer`` mix-in whose schedule is ``budget_scheduler``'s when a time budget is set.

    ``time_budget`` is the run's ``callbacks.TimeBudget`` (it must also be among
    the Trainer's callbacks, which start its clock).
    """

    def __init__(self, *args, time_budget=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_budget = time_budget

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.lr_scheduler is None and self.time_budget is not None and self.time_budget.seconds:
            warmup = self.args.get_warmup_steps(num_training_steps) / max(num_training_steps, 1)
            self.lr_scheduler = budget_scheduler(
                optimizer or self.optimizer, str(self.args.lr_scheduler_type.value), warmup,
                num_training_steps, self.time_budget.share_spent)
            self._created_lr_scheduler = True  # the Trainer makes a new one for each train()
        return super().create_scheduler(num_training_steps, optimizer)
