"""Data-parallel training on every GPU of the node, through torchrun.

Two ways in, the same training:

* ``torchrun --standalone --nproc-per-node=N -m dnalm.cli pretrain ...``: each
  process sees ``LOCAL_RANK`` and trains as one rank; the Trainer does the
  data-parallel (DDP) part on its own.
* ``dnalm pretrain ...`` on a node with several visible GPUs: the command runs
  that ``torchrun`` line itself (it says so in the job log) and waits for it;
  ``DNALM_NO_DDP=1`` keeps it to one process on one GPU.

The CPU slots Galaxy gives the job (``GALAXY_SLOTS``) are shared between the
processes for data loading and intra-op threads.
"""

import os
import subprocess
import sys

import torch


def is_distributed_worker():
    return "LOCAL_RANK" in os.environ


def world_size():
    return int(os.environ.get("WORLD_SIZE", "1"))


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
