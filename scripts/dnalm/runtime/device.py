"""Say in the job log (stdout; stderr is kept for errors) where the work runs.

A Galaxy admin must see when a job meant for a GPU fell back to the CPU.
"""


def announce_device(command=None):
    """Print one line naming the device ``command`` runs on; return the torch device type."""
    import torch

    who = f"dnalm {command}" if command else "dnalm"
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        print(f"{who}: running on {count} GPU(s): {torch.cuda.get_device_name(0)}", flush=True)
        return "cuda"
    print(
        f"{who}: no GPU visible, running on the CPU with {torch.get_num_threads()} thread(s)",
        flush=True,
    )
    return "cpu"
