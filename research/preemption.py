"""Stopping cleanly on SIGTERM: every process saves at the same step, then exits.

Preemptible TPU VMs and cluster schedulers announce the end with SIGTERM, a
short while before the machine goes away. On several hosts the signal may
reach one process only, yet all of them must save the *same* step (an Orbax
save is collective). JAX's distributed runtime solves exactly that: its
preemption sync manager, started by `jax.distributed.initialize()`, catches
SIGTERM on any process, tells the others through the coordination service,
and `multihost_utils.reached_preemption_sync_point(step)` then returns True on
every process at one agreed step (the largest step any process had reached,
plus one). On a single process without the distributed runtime a plain Python
signal handler does the same job.

The input pipeline's position needs no state of its own: every feeder derives
its batches from the step number alone (research/data/feeding.py,
lm_feeding.py, streaming.py), so the step in the checkpoint is the position
and a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class Preempted(Exception):
  """Training stopped at `step` on SIGTERM after saving a checkpoint there."""

  def __init__(self, step: int):
    super().__init__(
        f'Preempted (SIGTERM): checkpoint saved at step {step}; run the same '
        'command again to resume.')
    self.step = step


def _distributed_runtime_watches() -> bool:
  from jax._src import distributed  # The runtime's state has no public accessor.
  return distributed.global_state.preemption_sync_manager is not None


class PreemptionWatch:
  """`reached(step)` is True at the step where every process should save and stop.

  Call it at every step on every process (the multi-host protocol requires
  it); `close()` restores the previous SIGTERM handler. Use as a context manager.
  """

  def __init__(self):
    self._signalled = False
    self._previous_handler: Any = None
    self._multihost = _distributed_runtime_watches()
    # JAX's runtime installs its own SIGTERM handler; a Python one would replace
    # it and the other processes would never hear of the signal.
    if not self._multihost and threading.current_thread() is threading.main_thread():
      self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

  def _on_sigterm(self, signum, frame):
    del signum, frame
    self._signalled = True

  def reached(self, step: int) -> bool:
    if self._multihost:
      from jax.experimental import multihost_utils
      return multihost_utils.reached_preemption_sync_point(step)
    return self._signalled

  def close(self) -> None:
    if self._previous_handler is not None:
      signal.signal(signal.SIGTERM, self._previous_handler)
      self._previous_handler = None

  def __enter__(self) -> 'PreemptionWatch':
    return self

  def __exit__(self, *exc) -> None:
    self.close()

