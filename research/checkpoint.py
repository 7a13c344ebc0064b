"""Orbax checkpoints of the train state (plus a small JSON of run bookkeeping).

Saves are asynchronous and atomic (written to a temporary directory, then
renamed), so a run killed mid-save leaves the previous checkpoint intact.
Restores use an abstract target (`jax.eval_shape` + shardings), so a state
saved on N devices restores on M.

What a restore reads is verified: each save records a fingerprint of the
state (per-leaf sums) in its JSON, checked after reading. A checkpoint whose
files are cut short, unreadable or altered is moved aside to
WORKDIR/damaged_checkpoints/ (never deleted) and the previous one is tried.
"""

from __future__ import annotations


import contextlib
import errno
import json
import os
import shutil
import time
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from research import errors, fileio, parallel, writers

DAMAGED_DIR = 'damaged_checkpoints'
FINGERPRINT_KEY = 'fingerprint'
# Relative tolerance of the fingerprint: a state restored onto another device
# layout sums in another order.
_FINGERPRINT_RTOL = 1e-4
# Free space a save needs: the state's bytes (stored uncompressed, in the
# worst case) with a margin, plus metadata.
_SPACE_MARGIN = 1.1
_SPACE_SLACK_BYTES = 64 * 1024
# Text of errors that mean "these bytes are not a checkpoint any more" (from
# orbax's JSON files, tensorstore's chunks and manifests). Anything else, such
# as a state of another shape, is a real error and propagates.
_DAMAGE_TEXT = ('Error reading', 'DATA_LOSS', 'OUT_OF_RANGE', 'orrupt', 'truncated',
                'checksum', 'Malformed', 'Unexpected end')


class Checkpointer:

  def __init__(self, directory: str, *, every_steps: int, max_to_keep: int):
    self.directory = os.fspath(fileio.absolute(directory))
    self._every_steps = every_steps
    self._manager = ocp.CheckpointManager(
        fileio.absolute(directory),
        options=ocp.CheckpointManagerOptions(
            save_interval_steps=every_steps,
            max_to_keep=max_to_keep,
            create=True,
            cleanup_tmp_directories=True,
            enable_async_checkpointing=True,
        ),
        item_handlers={
            'state': ocp.StandardCheckpointHandler(),
            'meta': ocp.JsonCheckpointHandler(),
        },
    )

  def _check_free_space(self, state: Any) -> None:
    """ENOSPC before writing, when the disk clearly cannot hold one more
    checkpoint: a clean stop (the last good checkpoint kept) instead of orbax
    failing in its background threads half-way through the write."""
    if fileio.is_remote(self.directory):
      return
    need = int(_SPACE_MARGIN * sum(getattr(x, 'nbytes', 0) for x in jax.tree.leaves(state)))
    need += _SPACE_SLACK_BYTES
    free = shutil.disk_usage(self.directory).free
    if free < need:
      raise OSError(errno.ENOSPC, f'{free / 2**20:.1f} MiB free, a checkpoint needs about '
                    f'{need / 2**20:.1f} MiB', self.directory)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def should_save(self, step: int) -> bool:
    # Multiples of every_steps only: orbax's default policy also saves a run's
    # first step, a whole checkpoint that nothing needs.
    return step % self._every_steps == 0 and self._manager.should_save(step)

  def save(self, step: int, state: Any, meta: dict[str, Any], *, force: bool = False) -> bool:
    if force or self.should_save(step):
      self._check_free_space(state)
    # The state's fingerprint goes into the JSON, for `restore_intact`.
    meta = {**meta, FINGERPRINT_KEY: fingerprint(state)}
    return self._manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        force=force)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any]]:
    restored = self._manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            meta=ocp.args.JsonRestore()))
    return restored['state'], dict(restored['meta'])

  def read_verified(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any] | str]:
    """(state, meta) of checkpoint `step` when it reads back intact, else
    (None, why it is damaged). Errors that are not damage propagate."""
    try:
      with _quiet_orbax():
        state, meta = self.restore(step, abstract_state)
      why = _fingerprint_mismatch(meta.get(FINGERPRINT_KEY), state)
    except Exception as e:  # noqa: BLE001 (only damage is caught; see is_damage)
      if not is_damage(e):
        raise
      why = f'{type(e).__name__}: {" ".join(str(e).split())[:200]}'
    if why is not None:
      writers.log(f'WARNING: checkpoint {step} in {self.directory} is damaged ({why}); '
                  'trying the one before.')
      return None, why
    return state, meta

  def restore_intact(self, abstract_state: Any) -> tuple[int, Any, dict[str, Any]] | None:
    """(step, state, meta) of the newest checkpoint that reads back intact, or
    None when there is none. Damaged newer ones are moved aside, saying so;
    CheckpointsDamagedError when every checkpoint is damaged."""
    damaged = []
    for step in sorted(self.all_steps(), reverse=True):
      state, meta = self.read_verified(step, abstract_state)
      if state is not None:
        self.set_aside(damaged)
        return step, state, meta
      damaged.append(step)
    if damaged:
      raise errors.CheckpointsDamagedError(
          f'Every checkpoint in {self.directory} is damaged (steps {damaged}); nothing was '
          'deleted. Restore them from a copy, or start again in a new --workdir.')
    return None

  def set_aside(self, steps: list[int]) -> None:
    """Moves damaged step directories to WORKDIR/damaged_checkpoints/STEP-TIME
    (kept for inspection; the run will write those steps anew)."""
    if not steps:
      return
    parallel.sync_processes('checkpoints_set_aside')  # Every process has read them.
    if jax.process_index() == 0:
      aside = fileio.path(self.directory).parent / DAMAGED_DIR
      aside.mkdir(parents=True, exist_ok=True)
      for step in steps:
        target = aside / f'{step}-{time.strftime("%Y%m%dT%H%M%S")}'
        (fileio.path(self.directory) / str(step)).rename(target)
        writers.log(f'Moved damaged checkpoint {step} to {target}.')
    parallel.sync_processes('checkpoints_set_aside_done')
    self._manager.reload()

  def reached_preemption(self, step: int) -> bool:
    return self._manager.reached_preemption(step)

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs with each array's shape, dtype and sharding: the restore
  target, so a state saved on N devices is laid out for this run's mesh."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def fingerprint(state: Any) -> list[list[float]]:
  """[sum, sum of |x|] of every leaf, as float64: what `restore_intact`
  compares a read-back state against (cheap: two reductions per leaf on
  device, a few numbers to the host)."""
  leaves = jax.tree.leaves(state)
  sums = [(jnp.sum(x.astype(jnp.float32)), jnp.sum(jnp.abs(x.astype(jnp.float32))))
          for x in leaves if hasattr(x, 'dtype') and x.size]
  return [[float(a), float(b)] for a, b in jax.device_get(sums)]


def _fingerprint_mismatch(saved, state: Any) -> str | None:
  """Why `state` is not what was saved, or None (also for checkpoints saved
  before fingerprints existed)."""
  if saved is None:
    return None
  now = fingerprint(state)
  if len(now) != len(saved):
    return f'{len(now)} arrays read, {len(saved)} saved'
  for i, ((s, a), (s0, a0)) in enumerate(zip(now, saved)):
    tolerance = _FINGERPRINT_RTOL * max(a0, 1e-30)
    if not (np.isfinite(s) and abs(s - s0) <= tolerance and abs(a - a0) <= tolerance):
      return f'array {i} reads back with sum {s:.6g}, saved {s0:.6g}'
  return None


def is_damage(error: BaseException) -> bool:
  """Whether a restore failed because the checkpoint's bytes are damaged
  (cut short, altered, missing), rather than for a reason to report."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError, EOFError, zlib.error,
                          FileNotFoundError)):
      return True
    if any(t in str(error) for t in _DAMAGE_TEXT):
      return True
    error = error.__cause__ or error.__context__
  return False


@contextlib.contextmanager
def _quiet_orbax():
  """Orbax logs an ERROR line for every unreadable file before raising; the
  caller reports damage in one line of its own."""
  from absl import logging as absl_logging
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.FATAL)
  try:
    yield
  finally:
    absl_logging.set_verbosity(verbosity)
