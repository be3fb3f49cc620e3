"""What the Trainer tells the job log while it trains, the wall-time budget, and a run that learns nothing."""

import math
import time

from transformers import EarlyStoppingCallback, TrainerCallback


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

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds and time.perf_counter() - self._start > self.seconds:
            self.print(f"time budget of {self.seconds / 60:g} min used: stopping", flush=True)
            self.stopped = True
            control.should_training_stop = True
        return control


class AnnouncedEarlyStopping(EarlyStoppingCallback):
    """transformers' early stopping, saying so in the job log when it stops the run.

    A subclass rather than a second callback: a resumed run rebuilds the stateful
    callbacks from their checkpointed arguments, so a callback pointing at this one
    would be left watching the old instance.
    """

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        super().on_evaluate(args, state, control, metrics, **kwargs)
        if self.early_stopping_patience_counter >= self.early_stopping_patience and \
                state.is_world_process_zero:
            print(f"early stopping: {self.early_stopping_patience_counter} evaluation(s) without a "
                  f"better validation {args.metric_for_best_model.removeprefix('eval_')}", flush=True)


class NothingLearned(TrainerCallback):
    """Warn when a classifier is not learning: every validation prediction one class, or
    validation metrics that do not move from epoch to epoch.

    ``metrics`` are the Trainer's keys watched for movement (``eval_accuracy``, ...);
    ``classes_key`` is the evaluation's count of distinct predicted classes; ``advice`` is
    what to try, said with each warning. ``warnings`` keeps what was said.
    """

    def __init__(self, metrics, classes_key, advice, print_fn=print):
        self.metrics, self.classes_key, self.advice = tuple(metrics), classes_key, advice
        self.print = print_fn
        self.evaluations = []  # the watched metrics of each evaluation, rounded
        self.warnings = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        self.evaluations.append(tuple(round(metrics.get(key, float("nan")), 4) for key in self.metrics))
        if metrics.get(self.classes_key) == 1:
            self.warn(f"epoch {state.epoch:.2f}: every validation sequence is predicted as the same "
                      "class")

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or len(self.evaluations) < 2:
            return
        # NaN != NaN: compare as text, so an AUROC of NaN in every epoch counts as unmoved
        if len({repr(values) for values in self.evaluations}) == 1:
            names = ", ".join(key.removeprefix("eval_") for key in self.metrics)
            self.warn(f"the validation metrics ({names}) were the same in all "
                      f"{len(self.evaluations)} evaluations")

    def warn(self, text):
        message = f"warning: {text}: the model may not be learning; {self.advice}"
        self.warnings.append(message)
        self.print(message, flush=True)


def how_training_stopped(state, time_budget):
    """Why a finished ``trainer.train()`` stopped, in the words of the reports."""
    if time_budget.stopped:
        return "time budget"
    if state.max_steps and state.global_step < state.max_steps:
        return "early stopping"
    return "all epochs / steps done"
