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

import dataclasses
import json
import os
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from research import errors, fileio, parallel, provenance

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
