"""Say in the job log where the work runs: a Galaxy admin must see a GPU job fall back to the CPU."""

import sys


def announce_device(command):
    """Print one line naming the device ``command`` runs on; return the torch device type."""
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        print(f"dnalm {command}: running on {count} GPU(s): {torch.cuda.get_device_name(0)}", file=sys.stderr)
        return "cuda"
    print(
        f"dnalm {command}: no GPU visible, running on the CPU with {torch.get_num_threads()} thread(s)",
        file=sys.stderr,
    )
    return "cpu"
