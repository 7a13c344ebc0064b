"""Several seeds of one experiment trained as one compiled program (`jax.vmap`).

A 5,000-parameter MNIST-1D network leaves every core (or accelerator) mostly
idle: its matmuls are too small to fill it and each step is dominated by fixed
per-step costs. Stacking the train states of S seeds along a new leading axis
and `jax.vmap`-ing the task's own pure train step turns S small programs into
one with S-times larger operations and a single dispatch per step.

Nothing about a seed changes: its init key, step key (dropout, augmentation)
and data order are derived from its seed exactly as in a single run, so seed s
here matches `train.train_and_evaluate` with `config.seed = s` up to float
rounding. Each seed gets the workdir a single run would write (config.json with
its seed, metrics.jsonl, TensorBoard events, checkpoints, results.json,
pictures), so tables read it unchanged and one seed can be inspected alone.
Running again on the same workdirs resumes from the newest step that every
seed has checkpointed.

Supported: any task whose feeder keeps its data in memory (`for_seeds`: the
data is shared by the seeds, only the batch indices differ), e.g. every
in-memory classification dataset.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import checkpoint, errors, hostmem, optim, parallel, train, writers
from research import step as step_lib
from research import workdir as workdir_lib
from research.data import DatasetSpec, feeding
from research.tasks import TASKS, FittedTask


def seed_configs(config: ml_collections.ConfigDict, seeds: Sequence[int]) -> list:
  configs = []
  for seed in seeds:
    c = config.copy_and_resolve_references()
    c.seed = int(seed)
    configs.append(c)
  return configs


def _slice(tree: Any, i: int) -> Any:
  return jax.tree.map(lambda x: x[i], tree)


class SeedWriters:
  """One MetricWriter per seed; a value with a seed axis is split among them."""

  def __init__(self, workdirs: Sequence[str], *, tensorboard: bool):
    self.writers = [writers.MetricWriter(w, tensorboard=tensorboard) for w in workdirs]

  def write(self, step: int, scalars: dict[str, Any]) -> None:
    for i, writer in enumerate(self.writers):
      writer.write(step, {k: (v[i] if np.ndim(v) else v) for k, v in scalars.items()})

  def flush(self, *, force: bool = False) -> None:
    for writer in self.writers:
      writer.flush(force=force)

  def close(self) -> None:
    for writer in self.writers:
      writer.close()


class SeedLocks:
  """Every seed's workdir lock, refreshed together."""

  def __init__(self, locks):
    self.locks = locks

  def heartbeat(self) -> None:
    for lock in self.locks:
      lock.heartbeat()


class SeedCheckpointers:
  """Seed i's slice of the stacked state in its own workdir's checkpoints, so
  each seed's workdir is a complete single run."""

  def __init__(self, workdirs: Sequence[str], config):
    self.checkpointers = [
        checkpoint.Checkpointer(workdir_lib.checkpoints_dir(w),
                                every_steps=config.checkpoint_every_steps,
                                max_to_keep=config.keep_checkpoints)
        for w in workdirs]

  def common_step(self) -> int | None:
    """The newest step every seed has saved (a kill between two seeds' saves
    leaves them one checkpoint apart)."""
    common = set.intersection(*(set(c.all_steps()) for c in self.checkpointers))
    return max(common) if common else None

  def latest_step(self) -> int | None:
    return self.common_step()

  def should_save(self, step: int) -> bool:
    return self.checkpointers[0].should_save(step)

  def save(self, step: int, state_S, meta: dict[str, Any], *, force: bool = False) -> None:
    for i, c in enumerate(self.checkpointers):
      # A seed that was one checkpoint ahead when the group resumed from the
      # common step already holds this step (the same state: runs are deterministic).
      if step not in c.all_steps():
        c.save(step, _slice(state_S, i), meta, force=force)

  def restore_intact(self, abstract_one) -> tuple[int, Any, dict[str, Any]] | None:
    """(step, stacked state, meta) at the newest common step where every
    seed's checkpoint reads back intact, or None when no step is common. A
    damaged seed checkpoint sends every seed back one common step; damaged
    ones are moved aside (never deleted), as in a single run."""
    damaged = [[] for _ in self.checkpointers]
    common = set.intersection(*(set(c.all_steps()) for c in self.checkpointers))
    for step in sorted(common, reverse=True):
      restored = []
      for i, c in enumerate(self.checkpointers):
        state, meta = c.read_verified(step, abstract_one)
        if state is None:
          damaged[i].append(step)
        restored.append((state, meta))
      if all(state is not None for state, _ in restored):
        for c, steps in zip(self.checkpointers, damaged):
          c.set_aside(steps)
        state_S = jax.tree.map(lambda *xs: jnp.stack(xs), *(s for s, _ in restored))
        return step, state_S, restored[0][1]
    if any(damaged):
      which = '; '.join(f'{c.directory} steps {steps}'
                        for c, steps in zip(self.checkpointers, damaged) if steps)
      raise errors.CheckpointsDamagedError(
          f'No checkpoint step common to every seed reads back intact (damaged: {which}); '
          'nothing was deleted. Restore them from a copy, or start again in new workdirs.')
    return None

  def wait(self) -> None:
    for c in self.checkpointers:
      c.wait()

  def close(self) -> None:
    for c in self.checkpointers:
      c.close()


def train_and_evaluate_seeds(config: ml_collections.ConfigDict, seeds: Sequence[int],
                             workdirs: Sequence[str], *,
                             steps_per_dispatch: int = 1) -> list[dict[str, Any]]:
  """Trains `config` once per seed in `seeds` (seed i into `workdirs[i]`) as one
  vmapped program; returns each seed's results (also in its results.json)."""
  if len(seeds) != len(workdirs) or not seeds:
    raise errors.ConfigError(f'Need one workdir per seed; got {len(seeds)} seeds and '
                             f'{len(workdirs)} workdirs.')
  if len(set(seeds)) != len(seeds):
    raise errors.ConfigError(f'Seeds must differ; got {list(seeds)}.')
  for workdir in workdirs:
    workdir_lib.check_workdir(workdir)
  train.check_config(config)
  train.check_steps_per_dispatch(config, steps_per_dispatch)
  hostmem.use_heap_for_large_buffers()
  for key, field in (('init_from', 'workdir'), ('pretrained', 'name')):
    if key in config and config[key][field] is not None:
      # Not silently from scratch: the seeds' stacked state is built here.
      raise errors.ConfigError(
          f'{key}.{field} is set: runs that start from other weights train one seed per '
          'process (launch.train without --num_seeds, or launch.reproduce without vmap_seeds).')
  task = TASKS[config.task]
  if isinstance(task, FittedTask):
    raise errors.ConfigError(f'Task {config.task!r} is fitted in closed form: it has no seeds '
                             'to train; run it with launch.train.')
  spec = task.datasets.get(config.dataset.name)
  if isinstance(spec, DatasetSpec) and not spec.in_memory:  # Refused before any data is read.
    raise errors.ConfigError(
        f'Dataset {config.dataset.name!r} is streamed, not held in memory; training seeds '
        'as one program needs an in-memory dataset.')
  mesh = parallel.make_mesh()
  base = task.make_feeder(config, mesh)
  if not isinstance(base, feeding.InMemoryFeeder):
    raise errors.ConfigError(
        f'Dataset {config.dataset.name!r} ({type(base).__name__}) is not held in memory; '
        'training seeds as one program needs an in-memory dataset.')
  constants = task.load_constants(config, base, mesh)
  with contextlib.ExitStack() as held:  # Every seed's workdir is locked while this runs.
    locks = [held.enter_context(workdir_lib.in_use(w)) for w in workdirs]
    return _train_seeds_in_workdirs(config, seeds, workdirs, task, mesh, base, constants,
                                    locks, steps_per_dispatch)


def _train_seeds_in_workdirs(config, seeds, workdirs, task, mesh, base, constants, locks,
                             steps_per_dispatch):
  configs = seed_configs(config, seeds)
  for c, workdir in zip(configs, workdirs):
    workdir_lib.prepare(workdir, c)
    task.sync_workdir(workdir, c, base, constants)
  feeder = base.for_seeds(config, seeds)
  model = train.build_model(config, task, base)
  total_steps = train.num_train_steps(config, base.steps_per_epoch)
  tx, schedule = optim.make_optimizer(config, total_steps)
  # Each seed's (init key, step key), split exactly as a single run splits it.
  init_rng_S, step_rng_S = step_lib.run_keys(seeds, mesh)

  init_fn = jax.vmap(train.make_init_fn(task, model, tx, base))
  shardings = task.state_shardings(jax.eval_shape(init_fn, init_rng_S), mesh)
  state_S = step_lib.compile_init(init_fn, shardings)(init_rng_S)

  ckpt = SeedCheckpointers(workdirs, config)
  train_seconds = 0.0
  if (restored := ckpt.restore_intact(checkpoint.abstract_like(_slice(state_S, 0)))):
    latest, state_S, meta = restored
    state_S = jax.device_put(state_S, shardings)
    train_seconds = meta['train_seconds']
    writers.log(f'Resumed {len(seeds)} seeds from step {latest}.')

  train_fn, eval_fn = train.compile_steps(task, model, config, tx, schedule, feeder, state_S,
                                          constants, mesh, seed_axes=feeder.seed_axes)
  writer = SeedWriters(workdirs, tensorboard=config.tensorboard)
  ctx = train.LoopContext(
      config=config, task=task, feeder=feeder, train_fn=train_fn, eval_fn=eval_fn,
      rng=step_rng_S, constants=constants,
      total_steps=total_steps, ckpt=ckpt, writer=writer, lock=SeedLocks(locks),
      chunk=train.make_chunk(task, model, config, tx, schedule, feeder, state_S, constants,
                             mesh, steps_per_dispatch, seed_axes=feeder.seed_axes))
  writers.log(f'{config.task}: {config.model.name} on {config.dataset.name}: '
              f'{len(seeds)} seeds {list(seeds)} as one program, '
              f'{train.num_params(_slice(state_S.params, 0)):,} params each, '
              f'{total_steps} steps, {jax.device_count()} device(s).')
  t0 = time.perf_counter()
  with train.closing_on_error(writer, ckpt):
    state_S, train_seconds = train.train_loop(ctx, state_S, train_seconds)
    final = train.evaluate(task, eval_fn, state_S, feeder, constants)
    writer.write(total_steps, final)

  all_results = []
  for i, (c, workdir) in enumerate(zip(configs, workdirs)):
    results = {k: float(np.asarray(v)[i]) if np.ndim(v) else v for k, v in final.items()}
    state = _slice(state_S, i)
    results.update(
        steps=total_steps, train_seconds=train_seconds, seeds_in_program=len(seeds),
        examples_per_second=total_steps * config.batch_size * len(seeds)
        / max(train_seconds, 1e-9),
        num_params=train.num_params(state.params), num_devices=jax.device_count(),
        dataset=config.dataset.name, model=config.model.name)
    results.update(train.best_during_training(task, workdir))
    workdir_lib.write_results(workdir, results)
    if config.plot and jax.process_index() == 0:
      task.plot_run(workdir, c, model, state, base)
    all_results.append(results)
  writers.log(f'{len(seeds)} seeds done in {time.perf_counter() - t0:.0f} s: '
              + writers.format_scalars({k: [r[k] for r in all_results] for k in final}))
  return all_results
