"""What the Trainer tells the job log while it trains, and the wall-time budget."""

import math
import time

from transformers import TrainerCallback


def format_seconds(seconds):
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressLines(TrainerCallback):
    """One line per logging step in the job log: epoch, step, loss, tokens/s, ETA.

    It also writes ``tokens_per_second`` into the Trainer's log history, which
    is saved in every checkpoint, so the metrics table survives a resume.
    """

    def __init__(self, print_fn=print):
        self.print = print_fn
        self._last = None  # (time, tokens seen) at the last training log

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()
        self._start_step = state.global_step
        self._last = (self._start, state.num_input_tokens_seen)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        logs = logs or {}
        entry = state.log_history[-1] if state.log_history else {}
        now = time.perf_counter()
        if "loss" in logs:
            seconds = now - self._last[0]
            tokens = state.num_input_tokens_seen - self._last[1]
            speed = tokens / seconds if seconds > 0 else float("nan")
            entry["tokens_per_second"] = speed
            self._last = (now, state.num_input_tokens_seen)
            done = state.global_step - self._start_step
            left = state.max_steps - state.global_step
            eta = (now - self._start) / done * left if done else float("nan")
            self.print(
                f"epoch {state.epoch:.2f}/{args.num_train_epochs:g}  "
                f"step {state.global_step}/{state.max_steps}  loss {logs['loss']:.4f}  "
                f"lr {logs.get('learning_rate', float('nan')):.2e}  "
                f"tokens/s {speed:,.0f}  ETA {format_seconds(eta)}",
                flush=True,
            )
        if "eval_loss" in logs:
            self.print(
                f"epoch {state.epoch:.2f}  validation loss {logs['eval_loss']:.4f}  "
                f"perplexity {math.exp(min(logs['eval_loss'], 50)):.2f}  "
                f"accuracy {logs.get('eval_accuracy', float('nan')):.4f}",
                flush=True,
            )


class TimeBudget(TrainerCallback):
    """Stop cleanly once the wall-time budget is spent; ``stopped`` says whether it did.

    Stopping mid-epoch still ends the epoch the Trainer's way: it evaluates and
    saves there, then loads the best model seen.
    """

    def __init__(self, minutes, print_fn=print):
        self.seconds = minutes * 60
        self.print = print_fn
        self.stopped = False
        self._start = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def share_spent(self):
        """Share of the budget used so far (0 before training starts or without a budget)."""
        if not self.seconds or self._start is None:
            return 0.0
        return min(1.0, (time.perf_counter() - self._start) / self.seconds)

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds and time.perf_counter() - self._start > self.seconds:
            self.print(f"time budget of {self.seconds / 60:g} min used: stopping", flush=True)
            self.stopped = True
            control.should_training_stop = True
        return control


def how_training_stopped(state, time_budget):
    """Why a finished ``trainer.train()`` stopped, in the words of the reports."""
    if time_budget.stopped:
        return "time budget"
    if state.max_steps and state.global_step < state.max_steps:
        return "early stopping"
    return "all epochs / steps done"
