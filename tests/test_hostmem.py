"""research/hostmem.py: with glibc, large buffers come from the heap (no fresh
mmap per allocation), which is what saves XLA:CPU's per-step page faults."""

import platform
import subprocess
import sys

import pytest

from testlib import REPO_ROOT, subprocess_env

# Counts glibc's mmapped chunks (mallinfo2's hblks) before and after holding a
# 64 MiB buffer, in a fresh process.
_PROBE = '''
import ctypes, sys
from research import hostmem
print('set', hostmem.use_heap_for_large_buffers())
libc = ctypes.CDLL('libc.so.6')
class MallInfo2(ctypes.Structure):
  _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',
              'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblks
buffer = ctypes.create_string_buffer(64 << 20)
print('mmapped', libc.mallinfo2().hblks - before)
# From another thread, above a thread arena's 64 MiB (as XLA:CPU's threads
# allocate a step's temporaries): glibc mmaps that whatever M_MMAP_MAX says,
# unless every thread shares the main arena.
import threading
counts = []
def hold():
  start = libc.mallinfo2().hblks
  held = libc.malloc(ctypes.c_size_t(100 << 20))
  counts.append(libc.mallinfo2().hblks - start)
  libc.free(ctypes.c_void_p(held))
libc.malloc.restype = ctypes.c_void_p
thread = threading.Thread(target=hold)
thread.start()
thread.join()
print('thread_mmapped', counts[0])
# 2.5 GiB held and freed (never touched, so it costs no memory): the freed top
# of the heap is bigger than any int threshold mallopt could take, and must
# stay mapped (the 2x512 LSTM's step frees about that much every step).
libc.sbrk.restype = ctypes.c_void_p
held = libc.malloc(ctypes.c_size_t(5 << 29))
top = libc.sbrk(0)
libc.free(ctypes.c_void_p(held))
print('trimmed', int(libc.sbrk(0) < top) if held else 'malloc_failed')
'''

glibc_only = pytest.mark.skipif(
    platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
    reason='mallopt is glibc\'s; elsewhere use_heap_for_large_buffers does nothing (tested below)')


def _probe(**env):
  out = subprocess.run([sys.executable, '-c', _PROBE], cwd=REPO_ROOT, env=subprocess_env(**env),
                       capture_output=True, text=True, timeout=120, check=True).stdout
  return dict(line.split() for line in out.splitlines())


@glibc_only
def test_large_buffers_come_from_the_heap():
  assert _probe() == {'set': 'True', 'mmapped': '0', 'thread_mmapped': '0', 'trimmed': '0'}


@glibc_only
def test_the_default_malloc_mmaps_them_and_can_be_kept():
  # (The default mmaps the 2.5 GiB too, so the heap's top does not move.)
  assert _probe(CLASSICNETS_DEFAULT_MALLOC='1') == {'set': 'False', 'mmapped': '1',
                                                    'thread_mmapped': '1', 'trimmed': '0'}


def test_it_does_nothing_without_glibc(monkeypatch):
  from research import hostmem
  hostmem.use_heap_for_large_buffers.cache_clear()
  monkeypatch.setattr(platform, 'libc_ver', lambda: ('', ''))
  try:
    assert hostmem.use_heap_for_large_buffers() is False
  finally:
    hostmem.use_heap_for_large_buffers.cache_clear()
