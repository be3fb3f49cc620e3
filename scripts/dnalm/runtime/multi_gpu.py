"""Data-parallel training on every GPU of the node, through torchrun.

When the job sees more than one CUDA device and is not already one process of
a distributed launch, the command starts itself again under ``torchrun``, one
process per GPU; the Trainer then trains data-parallel (DDP) on its own. The
CPU slots Galaxy gives the job (``GALAXY_SLOTS``) are shared between the
processes for data loading and intra-op threads.
"""

import os
import subprocess
import sys

import torch


def is_distributed_worker():
    return "LOCAL_RANK" in os.environ


def is_main_process():
    return int(os.environ.get("RANK", "0")) == 0


def gpus_to_use():
    """How many processes to start: the visible CUDA devices (``CUDA_VISIBLE_DEVICES`` honoured)."""
    if not torch.cuda.is_available():
        return 0
    return torch.cuda.device_count()


def torchrun_command(n_processes, argv):
    """``torchrun`` running ``dnalm <argv>`` once per GPU on this node."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n_processes}",
        "-m",
        "dnalm.cli",
        *argv,
    ]


def relaunch_if_several_gpus(argv, print_fn=print):
    """Run ``dnalm <argv>`` under torchrun and return its exit code, or ``None`` to train here."""
    n_gpus = gpus_to_use()
    if n_gpus < 2 or is_distributed_worker() or os.environ.get("DNALM_NO_DDP"):
        return None
    slots = int(os.environ.get("GALAXY_SLOTS", os.cpu_count() or 1))
    environment = dict(os.environ, OMP_NUM_THREADS=str(max(1, slots // n_gpus)))
    print_fn(f"{n_gpus} GPUs visible: training data-parallel with torchrun", flush=True)
    return subprocess.call(torchrun_command(n_gpus, argv), env=environment)
