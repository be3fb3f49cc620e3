"""Loading a checkpoint with transformers: quiet while it loads, and a failure in one line."""

from contextlib import contextmanager

from dnalm.errors import DnalmError


@contextmanager
def loading_checkpoint(source):
    """Inside the block: transformers' load report and progress bars off, and a failed load
    becomes one line naming ``source``. After it, transformers logs as it did before.

    The load report lists the unused weights of other architectures (e.g. a classifier's
    ``score.weight`` when only the backbone is wanted); the callers check what matters.
    """
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    progress_bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        raise DnalmError(f"model {source} cannot be loaded: {message}") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
        if progress_bars:
            transformers_logging.enable_progress_bar()
