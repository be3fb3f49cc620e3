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

    Where the ``time_budget`` (a ``TimeBudget``) will end the run before its last
    step, the line counts towards the budget's end instead, estimated from the pace
    so far (``epoch 0.20/~2.8 step 312/~4370 (time budget)``): 50 epochs and 78,400
    steps would announce a run that the budget stops at epoch 2.8, and hours for
    minutes. It also writes ``tokens_per_second`` into the Trainer's log history,
    which is saved in every checkpoint, so the metrics table survives a resume.
    """

    def __init__(self, print_fn=print, time_budget=None):
        self.print = print_fn
        self.time_budget = time_budget
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
            self.print(
                f"{self.position(args, state, now)}  loss {logs['loss']:.4f}  "
                f"lr {logs.get('learning_rate', float('nan')):.2e}  "
                f"tokens/s {speed:,.0f}  ETA {format_seconds(self.eta(state, now))}",
                flush=True,
            )
        if "eval_loss" in logs:
            self.print(
                f"epoch {state.epoch:.2f}  validation loss {logs['eval_loss']:.4f}  "
                f"perplexity {math.exp(min(logs['eval_loss'], 50)):.2f}  "
                f"accuracy {logs.get('eval_accuracy', float('nan')):.4f}",
                flush=True,
            )

    def steps_per_second(self, state, now):
        done = state.global_step - self._start_step
        return done / (now - self._start) if done and now > self._start else float("nan")

    def budget_end_step(self, state, now):
        """The step at which the time budget will stop the run at this pace, or None if
        there is no budget or the run's last step comes first."""
        if self.time_budget is None or not math.isfinite(self.time_budget.seconds_left()):
            return None
        pace = self.steps_per_second(state, now)
        if not math.isfinite(pace):
            return None
        end = state.global_step + pace * self.time_budget.training_seconds_left(state)
        return end if end < state.max_steps else None

    def position(self, args, state, now):
        """``epoch E/END  step S/END``: the ends are the budget's where it stops the run first."""
        end = self.budget_end_step(state, now)
        if end is None:
            return (f"epoch {state.epoch:.2f}/{args.num_train_epochs:g}  "
                    f"step {state.global_step}/{state.max_steps}")
        epochs_per_step = state.epoch / state.global_step if state.global_step else 0.0
        return (f"epoch {state.epoch:.2f}/~{end * epochs_per_step:.1f}  "
                f"step {state.global_step}/~{end:.0f} (time budget)")

    def eta(self, state, now):
        """Seconds to the last step at this pace, or to the budget's end where that comes first."""
        eta = (state.max_steps - state.global_step) / self.steps_per_second(state, now)
        if self.time_budget is not None:
            eta = min(eta, self.time_budget.seconds_left())
        return eta


class TimeBudget(TrainerCallback):
    """Stop cleanly in time for the final evaluation and save; ``stopped`` says whether it did.

    Stopping mid-epoch still ends the epoch the Trainer's way: it evaluates and
    saves there, then loads the best model seen; the command then saves the
    model. Training therefore stops once the time left is what those take: the
    last evaluation and checkpoint as measured (at the end of an epoch), or
    before any, estimated. An evaluation pass reads the validation tokens
    forward only, taken to run at twice the training speed in tokens per second
    (a training step also runs backward and the optimiser: about three times the
    work); a save writes about ``SAVE_BYTES_PER_PARAMETER`` at ``SAVE_BYTES_PER_SECOND``.
    """

    SAVE_BYTES_PER_PARAMETER = 16  # fp32 weights and AdamW's two moments, and a little
    SAVE_BYTES_PER_SECOND = 100e6  # a slow shared disk

    def __init__(self, minutes, print_fn=print, validation_tokens=0):
        self.seconds = minutes * 60
        self.print = print_fn
        self.validation_tokens = validation_tokens
        self.stopped = False
        self.evaluation_seconds = self.save_seconds = None  # measured, once there is one
        self._mark = None
        self._start = None  # share_spent() is 0 until training begins
        self._tokens_at_start, self._save_estimate = 0, 0.0  # set as training begins

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._start = time.perf_counter()
        self._tokens_at_start = state.num_input_tokens_seen
        parameters = sum(p.numel() for p in model.parameters()) if model is not None else 0
        self._save_estimate = parameters * self.SAVE_BYTES_PER_PARAMETER / self.SAVE_BYTES_PER_SECOND

    def on_epoch_end(self, args, state, control, **kwargs):
        self._mark = time.perf_counter()  # the Trainer evaluates, then saves, right after

    def on_evaluate(self, args, state, control, **kwargs):
        if self._mark is not None:
            now = time.perf_counter()
            self.evaluation_seconds, self._mark = now - self._mark, now

    def on_save(self, args, state, control, **kwargs):
        if self._mark is not None:
            self.save_seconds, self._mark = time.perf_counter() - self._mark, None

    def reserve(self, state, elapsed):
        """Seconds to keep for the final evaluation, the checkpoint and the model's save."""
        evaluation = self.evaluation_seconds
        if evaluation is None:
            tokens = state.num_input_tokens_seen - self._tokens_at_start
            speed = tokens / elapsed if tokens > 0 and elapsed > 0 else float("inf")
            evaluation = self.validation_tokens / (2 * speed)
        save = self.save_seconds if self.save_seconds is not None else self._save_estimate
        return evaluation + 2 * save

    def share_spent(self):
        """Share of the budget used so far (0 before training starts or without a budget)."""
        if not self.seconds or self._start is None:
            return 0.0
        return min(1.0, (time.perf_counter() - self._start) / self.seconds)

    def seconds_left(self):
        """Seconds of the budget not yet spent (infinite without a budget)."""
        if not self.seconds or self._start is None:
            return float("inf")
        return max(0.0, self.seconds - (time.perf_counter() - self._start))

    def training_seconds_left(self, state):
        """Seconds of training left before the budget stops it (its reserve kept back)."""
        elapsed = time.perf_counter() - self._start
        return max(0.0, self.seconds - elapsed - self.reserve(state, elapsed))

    def on_step_end(self, args, state, control, **kwargs):
        if not self.seconds:
            return control
        elapsed = time.perf_counter() - self._start
        reserve = self.reserve(state, elapsed)
        if elapsed + reserve > self.seconds:
            self.print(f"time budget of {self.seconds / 60:g} min: stopping after "
                       f"{format_seconds(elapsed)} of training, keeping {format_seconds(reserve)} "
                       "for the last evaluation and the save", flush=True)
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
