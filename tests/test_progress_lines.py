"""The job log's progress lines count towards the end of the run: its last step, or the time budget's."""

import time
from types import SimpleNamespace

from dnalm.training.callbacks import ProgressLines, TimeBudget
from transformers import TrainerState


def progress_after_a_minute(budget_minutes, steps_done, epoch, max_steps=78_400):
    """The line ProgressLines prints after ``steps_done`` steps in one minute of training."""
    lines = []
    budget = TimeBudget(budget_minutes, print_fn=lambda *a, **k: None) if budget_minutes else None
    progress = ProgressLines(print_fn=lambda line, **k: lines.append(line), time_budget=budget)
    state = TrainerState(max_steps=max_steps, global_step=0, epoch=0.0)
    args = SimpleNamespace(num_train_epochs=50)
    progress.on_train_begin(args, state, None)
    if budget:
        budget.on_train_begin(args, state, None)
        budget._start = time.perf_counter() - 60
    progress._start = time.perf_counter() - 60
    state.global_step, state.epoch = steps_done, epoch
    progress.on_log(args, state, None, logs={"loss": 3.9, "learning_rate": 1e-3})
    return lines[-1]


def test_a_budget_that_stops_the_run_first_is_the_end_the_line_counts_to():
    # 10 minutes, 1 spent, 100 steps a minute: the budget stops at about step 1,000, which at
    # 0.06 epochs per 100 steps is epoch 0.6, long before 50 epochs or step 78,400
    line = progress_after_a_minute(10, 100, 0.06)
    assert line.startswith("epoch 0.06/~0.6  step 100/~1000 (time budget)  loss 3.9000"), line
    assert line.split("ETA ")[1] in ("0:09:00", "0:08:59")
    assert "/50" not in line and "78400" not in line


def test_without_a_budget_or_when_the_steps_end_first_the_line_counts_to_the_last_step():
    line = progress_after_a_minute(0, 100, 0.06)
    assert line.startswith("epoch 0.06/50  step 100/78400  loss 3.9000"), line
    assert line.split("ETA ")[1] in ("13:03:00", "13:02:59")  # 78,300 steps at 100 a minute

    # 60 minutes would reach step 6,000; the run has 500
    line = progress_after_a_minute(60, 100, 0.06, max_steps=500)
    assert line.startswith("epoch 0.06/50  step 100/500  loss"), line
    assert line.split("ETA ")[1] in ("0:04:00", "0:03:59")
