"""Keep freed memory in the process instead of handing it back to the system.

Training allocates and frees the same large tensors (activations, logits,
gradients) at every step. By default glibc serves blocks over a few MB with
fresh ``mmap`` pages and returns them on ``free``, so every step pays again
for page faults and zeroed pages. Reusing the heap instead made CPU training of
the tutorial model 1.4x faster (3,057 -> 4,306 tokens/s at micro-batch 200),
for a higher peak (4.9 -> 6.2 GiB): the heap keeps what it once held (bench/).
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_MAX = -4
LARGEST_C_INT = 2**31 - 1


def keep_freed_memory():
    """Ask glibc's malloc to reuse freed blocks; returns False where it is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # musl, macOS, ...: nothing to tune
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, LARGEST_C_INT))
