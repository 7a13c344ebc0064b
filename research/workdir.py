"""A run's workdir: the files it holds and the one way to read a finished run.

  config.json       the resolved config (checked when a run resumes)
  provenance.json   what ran it, one record per start or resume (research/provenance.py)
  metrics.jsonl     research.writers (and tensorboard/, event files)
  checkpoints/      research.checkpoint
  results.json      final metrics
  + files a task derives from the data (vocab.json, tokenizer.json,
    labels.json, teacher.json), written once and checked on resume.

A workdir is a local path or a bucket URL (gs://...): every file here goes
through research/fileio.py.

`load_run(workdir)` gives a finished or running workdir's config and the
variables of its newest checkpoint; predict, sample, distillation (the
teacher) and `init_from` all read runs through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys
import time
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from research import errors, fileio, parallel, provenance, writers

CONFIG_FILE = 'config.json'
PROVENANCE_FILE = 'provenance.json'
RESULTS_FILE = 'results.json'
CHECKPOINTS_DIR = 'checkpoints'

# Keys that may differ when a workdir is resumed (they do not change the math
# of the steps already taken): extending a run or logging differently is fine.
RESUMABLE_CHANGES = frozenset({
    'num_train_steps', 'num_epochs', 'log_every_steps', 'eval_every_steps',
    'checkpoint_every_steps', 'keep_checkpoints', 'tensorboard', 'plot',
    'dataset.data_dir', 'dataset.download',
})


def check_workdir(workdir: str) -> None:
  """A clear error before anything is written: a remote workdir's bucket must
  answer (research/fileio.py); a local one must not be a file."""
  fileio.check_reachable(workdir, '--workdir')
  if not fileio.is_remote(workdir) and os.path.exists(workdir) and not os.path.isdir(workdir):
    raise errors.ConfigError(f'--workdir={workdir!r} is a file, not a directory.')


def checkpoints_dir(workdir: str) -> str:
  return os.fspath(fileio.absolute(workdir) / CHECKPOINTS_DIR)


def prepare(workdir: str, config) -> None:
  """Writes config.json, or checks that a resumed run has a compatible config."""
  path = fileio.join(workdir, CONFIG_FILE)
  new = json.loads(config.to_json_best_effort())  # tuples -> lists, as on disk
  if fileio.exists(path):
    old = fileio.read_json(path)
    changed = sorted(k for k in _flat_keys(old) | _flat_keys(new)
                     if _get(old, k) != _get(new, k) and k not in RESUMABLE_CHANGES)
    if changed:
      raise errors.ConfigError(
          f'Workdir {workdir!r} holds a run with a different config '
          f'(changed: {", ".join(changed)}). Use a new --workdir, or the same config.')
  # Every process has checked the old file before process 0 replaces it.
  parallel.sync_processes('prepare_workdir')
  if jax.process_index() == 0:
    fileio.makedirs(workdir)
    fileio.write_json(path, new)
    _append_provenance(workdir)


def _append_provenance(workdir: str) -> None:
  """One more record in provenance.json: a resumed run may run other code or
  library versions than the start did, and each is kept."""
  path = fileio.join(workdir, PROVENANCE_FILE)
  records = fileio.read_json(path) if fileio.exists(path) else []
  records.append(provenance.collect())
  fileio.write_json(path, records)


def _flat_keys(d: dict, prefix: str = '') -> set[str]:
  keys = set()
  for k, v in d.items():
    keys |= _flat_keys(v, f'{prefix}{k}.') if isinstance(v, dict) else {f'{prefix}{k}'}
  return keys


def _get(d: dict, dotted: str) -> Any:
  for part in dotted.split('.'):
    if not isinstance(d, dict) or part not in d:
      return '<absent>'
    d = d[part]
  return d


def write_results(workdir: str, results: dict[str, Any]) -> None:
  """results.json: the final metrics and the provenance of the process that
  finished the run."""
  if jax.process_index() == 0:
    fileio.write_json(fileio.join(workdir, RESULTS_FILE),
                      {**results, 'provenance': provenance.collect()})


def sync_file(workdir: str, name: str, *, write: Callable[[str], None],
              check: Callable[[str], None]) -> None:
  """A file derived from the data (a vocabulary, a tokenizer, the teacher
  read): a fresh run writes it (`write(path)`, process 0, once every process
  got here, so none reads a half-written file); a resumed run calls
  `check(path)`, which raises ConfigError if the data changed since: ids mean
  tokens only through a vocabulary, and a changed teacher changes the math."""
  path = fileio.join(workdir, name)
  if fileio.exists(path):
    check(path)
    return
  parallel.sync_processes(f'sync_{name}')
  if jax.process_index() == 0:
    write(path)


def sync_json(workdir: str, name: str, record: dict[str, Any],
              mismatch: Callable[[dict[str, Any]], str | None]) -> None:
  """`sync_file` for a JSON record; `mismatch(saved)` says why a saved record
  does not fit (None if it does)."""

  def check(path):
    why = mismatch(fileio.read_json(path))
    if why:
      raise errors.ConfigError(why)

  sync_file(workdir, name, check=check,
            write=lambda path: fileio.write_json(path, record))


def read_config(workdir: str, *, what: str = 'a run of launch.train') -> ml_collections.ConfigDict:
  path = fileio.join(workdir, CONFIG_FILE)
  if not fileio.exists(path):
    raise errors.ConfigError(f'{path} not found: {workdir!r} must be {what}.')
  return ml_collections.ConfigDict(fileio.read_json(path))


def latest_step(workdir: str) -> int | None:
  """The newest checkpoint's step, read without creating anything."""
  import orbax.checkpoint as ocp

  directory = checkpoints_dir(workdir)
  if not fileio.isdir(directory):
    return None
  manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))
  try:
    return manager.latest_step()
  finally:
    manager.close()


@dataclasses.dataclass(frozen=True)
class Run:
  """A workdir's config and its newest checkpoint's variables (host arrays)."""
  workdir: str
  config: ml_collections.ConfigDict
  step: int
  params: Any
  model_state: Any  # other flax collections, e.g. {'batch_stats': ...}

  @property
  def variables(self) -> dict[str, Any]:
    """What `model.apply` takes: {'params': ..., other collections}. A language
    model's carry is training state, not a collection of its model."""
    return {'params': self.params,
            **{k: v for k, v in self.model_state.items() if k != 'carry'}}


def load_run(workdir: str, *, tasks: tuple[str, ...] | None = None,
             what: str = 'a run of launch.train') -> Run:
  """The run in `workdir` (config.json + newest checkpoint); with `tasks`, it
  must be a run of one of them. Raises ConfigError naming what is missing."""
  import orbax.checkpoint as ocp

  config = read_config(workdir, what=what)
  if tasks is not None and config.get('task') not in tasks:
    raise errors.ConfigError(
        f'{workdir!r} holds a {config.get("task")!r} run, not {what} '
        f'(task {" or ".join(map(repr, tasks))}).')
  step = latest_step(workdir)
  if step is None:
    raise errors.ConfigError(f'{workdir!r} has no checkpoint yet.')
  saved = ocp.StandardCheckpointer().restore(
      fileio.path(checkpoints_dir(workdir)) / str(step) / 'state')
  return Run(workdir=workdir, config=config, step=step,
             params=jax.tree.map(np.asarray, saved['params']),
             model_state=jax.tree.map(np.asarray, dict(saved.get('model_state') or {})))


LOCK_FILE = 'lock.json'
# A holder on another host proves it is alive by refreshing its heartbeat.
HEARTBEAT_SECONDS = 60.0
STALE_AFTER_SECONDS = 15 * 60.0


def _process_started(pid: int) -> str | None:
  """The process's start time in clock ticks since boot (Linux), so that a
  recycled pid is not mistaken for the holder; None where unknown."""
  try:
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
      return f.read().rsplit(')', 1)[1].split()[19]
  except (OSError, IndexError):
    return None


def _me() -> dict[str, Any]:
  now = time.time()
  return {'host': socket.gethostname(), 'pid': os.getpid(),
          'pid_started': _process_started(os.getpid()), 'started': now, 'heartbeat': now,
          'command': ' '.join(sys.argv)[:300]}


def _holder_alive(holder: dict[str, Any]) -> bool:
  if holder.get('host') == socket.gethostname():
    pid = int(holder.get('pid', -1))
    try:
      os.kill(pid, 0)
    except ProcessLookupError:
      return False
    except PermissionError:
      pass  # Someone else's live process.
    started = _process_started(pid)
    return started is None or holder.get('pid_started') in (None, started)
  return time.time() - float(holder.get('heartbeat', 0)) < STALE_AFTER_SECONDS


class WorkdirLock:
  """WORKDIR/lock.json names the run training in the workdir, so a second
  run is refused while the first is alive. A holder on this host is alive
  while its process is (a SIGKILLed holder's lock is taken over, saying
  so); one on another host while it refreshes its heartbeat. On several
  processes (a pod sharing the workdir), process 0 holds the lock for all,
  and every process learns whether it got it."""

  def __init__(self, workdir: str):
    self.workdir = workdir
    self.path = fileio.join(workdir, LOCK_FILE)
    self._mine: dict[str, Any] | None = None
    self._beat_at = 0.0

  def acquire(self) -> None:
    refusal = self._try_acquire() if jax.process_index() == 0 else None
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      refused = multihost_utils.broadcast_one_to_all(np.int32(refusal is not None))
      if refused and refusal is None:
        refusal = f'workdir {self.workdir!r} is in use by another run (see process 0).'
    if refusal:
      raise errors.WorkdirError(refusal)

  def _try_acquire(self) -> str | None:
    me = _me()
    if fileio.exists(self.path):
      try:
        holder = fileio.read_json(self.path)
      except (ValueError, OSError):
        holder = {}  # Half-written by a holder killed mid-write: not a live run.
      if holder and _holder_alive(holder):
        return (f'workdir {self.workdir!r} is in use by pid {holder.get("pid")} on '
                f'{holder.get("host")} (started {_when(holder.get("started"))}: '
                f'{holder.get("command", "?")}). Wait for it or stop it, or use another '
                f'--workdir. If that run is gone, delete {self.path}.')
      if holder:
        writers.log(f'Taking over {self.path} from pid {holder.get("pid")} on '
                    f'{holder.get("host")}, which is no longer running.')
      fileio.write_json(self.path, me)
    elif not fileio.is_remote(self.path):
      fileio.makedirs(self.workdir)
      try:  # Created only if absent: of two runs starting at once, one wins.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
      except FileExistsError:
        return self._try_acquire()
      try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
          json.dump(me, f)
      except OSError:
        os.unlink(self.path)  # A disk too full for even this: leave nothing behind.
        raise
    else:
      fileio.write_json(self.path, me)
    back = fileio.read_json(self.path)  # Two runs replacing a stale lock at once: one wins.
    if (back.get('pid'), back.get('started')) != (me['pid'], me['started']):
      return f'workdir {self.workdir!r} was just taken by another run (pid {back.get("pid")}).'
    self._mine = me
    self._beat_at = me['heartbeat']
    return None

  def heartbeat(self) -> None:
    """Refreshes the lock's heartbeat (at most once every HEARTBEAT_SECONDS)."""
    now = time.time()
    if self._mine is None or now - self._beat_at < HEARTBEAT_SECONDS:
      return
    self._beat_at = now
    self._mine['heartbeat'] = now
    fileio.write_json(self.path, self._mine)

  def release(self) -> None:
    if self._mine is None:
      return
    try:
      if fileio.exists(self.path) and fileio.read_json(self.path).get('started') == \
          self._mine['started']:
        fileio.path(self.path).unlink()
    except (OSError, ValueError):
      pass  # Left behind, it is taken over as stale by the next run.
    self._mine = None


def _when(t) -> str:
  return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(t))) if t else '?'


@contextlib.contextmanager
def in_use(workdir: str):
  """Holds the workdir's lock while the block runs, and turns a full disk, a
  read-only file system or a refused permission met while writing the
  workdir into one WorkdirError saying what to do (real errors pass through
  with their tracebacks). Yields the lock, for its heartbeat."""
  lock = WorkdirLock(workdir)
  try:
    lock.acquire()
  except Exception as e:  # noqa: BLE001 (a system cause becomes one line; the rest propagates)
    _raise_system_cause(e, workdir)
    raise
  try:
    yield lock
  except errors.UserError:
    raise
  except Exception as e:  # noqa: BLE001
    _raise_system_cause(e, workdir)
    raise
  finally:
    lock.release()


def _raise_system_cause(error: BaseException, workdir: str) -> None:
  cause = errors.system_cause(error)
  if cause is None:
    return
  what, filename = cause
  step = None
  try:
    step = latest_step(workdir)
  except Exception:  # noqa: BLE001 (best effort: only for the message)
    pass
  kept = (f'; the last good checkpoint, step {step}, is kept and a rerun resumes from it'
          if step is not None else '')
  raise errors.WorkdirError(
      f'Cannot write {filename or workdir!r}: {what}{kept}.') from error
