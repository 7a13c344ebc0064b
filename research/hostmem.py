"""glibc's malloc, set for XLA:CPU's per-step buffers (`use_heap_for_large_buffers`).

XLA:CPU allocates a program's temporaries afresh at every execution. By
default glibc serves an allocation above its mmap threshold (at most 32 MiB)
with a new `mmap`, and `munmap`s it on free, so every step pays the kernel's
page faults to zero those pages again: TextCNN's step (a 14,963 x 300
embedding table, its gradient and Adam's moments) spent about a third of its
time there on the 2-core development CPU (launch.benchmark: 1,267 -> 1,802
examples/s). Served from the heap and kept there (no mmap, no trimming), the
pages are reused. PyTorch gets the same effect from MALLOC_MMAP_THRESHOLD_ /
MALLOC_TRIM_THRESHOLD_ in its environment (research/torch_twin.py); those are
read only when a process starts, while `mallopt` works at run time.

The cost: memory freed by the process is not returned to the system, so its
resident size stays at its peak. It changes no computed value. It is called
by every entry point (launch/cli.py), research.train and research.benchmark;
it does nothing where the C library is not glibc (macOS, musl) or when
CLASSICNETS_DEFAULT_MALLOC=1 is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# Never give heap memory back. mallopt takes an int, but glibc stores the
# threshold as a size_t, so -1 is SIZE_MAX. The largest positive int (2 GiB,
# used until 2026-12-01) was not enough: the 2x512 LSTM's step frees more than
# 2 GiB at the top of the heap, and in the processes where those buffers ended
# up there glibc gave them back and faulted them in again at every step
# (3.4-3.9 million page faults a benchmark instead of 0.4-0.9 million, 105-128
# examples/s instead of 140-150; docs/speed.md).
_TRIM_THRESHOLD = -1


@functools.cache
def use_heap_for_large_buffers() -> bool:
  """Serves every allocation from glibc's heap and never trims it; True if
  set (once per process), False where it does not apply."""
  if os.environ.get('CLASSICNETS_DEFAULT_MALLOC') == '1':
    return False
  if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    mallopt = libc.mallopt
  except (OSError, AttributeError):
    return False
  mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
  # mallopt returns 1 on success.
  # One arena: a thread's own arena is a heap of at most 64 MiB, and glibc
  # serves an allocation larger than that from a thread with a fresh mmap
  # whatever M_MMAP_MAX says (sysmalloc's fallback). XLA:CPU allocates a step's
  # temporaries on its own threads: the small CNN's 103 MB each step, 26,000
  # page faults a step, until every thread shared the main arena (1,000 ->
  # 1,300 examples/s, docs/speed.md). A thread takes its arena at its first
  # allocation, so this must run before XLA starts its threads; the entry
  # points call it first.
  return (bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
          and bool(mallopt(_M_ARENA_MAX, 1)))
