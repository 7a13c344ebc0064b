"""The trainer's compiled programs: one generic pure train step, the eval
step and the state initialisation, each `jax.jit`-ed here and nowhere else in
the training path.

  train_step(state, rng, constants, batch) -> (state, metrics)

is big_vision's `update_fn` shape: the task contributes only its objective
(`Task.loss`) and, optionally, a mask of which parameters a step may change
(`Task.update_mask`); value_and_grad, the optax update and the health metrics
(learning rate, gradient and parameter norms) are the same for every family.
`rng` is the run's step key, an argument (not a closure), folded with the
step inside, so the step is a pure function of its inputs and a resumed run
draws exactly the keys of an uninterrupted one. `constants` are read-only
arrays the objective needs (a distillation teacher), passed in on every call
so they are neither updated, nor saved, nor baked into the program.

Compiled with the state's shardings in and out and the state donated. With
`seed_axes`, S seeds' stacked states train as one program: the same step,
`jax.vmap`-ed over the seed axis (research/multiseed.py).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from research import parallel
from research.train_state import TrainState


def step_rngs(rng: jax.Array, step: jax.Array, streams: Sequence[str]) -> dict[str, jax.Array]:
  """One key per stream of randomness, folded with the step. A single stream
  uses the run's key itself; several split it first (so a stream's keys do
  not depend on which other streams a task declares after it)."""
  keys = [rng] if len(streams) == 1 else list(jax.random.split(rng, len(streams)))
  return {name: jax.random.fold_in(key, step) for name, key in zip(streams, keys)}


def train_step(state: TrainState, rng: jax.Array, constants: Any, batch: dict[str, Any], *,
               loss_fn: Callable, tx: optax.GradientTransformation, schedule: optax.Schedule,
               rng_streams: Sequence[str],
               update_mask: Callable | None = None) -> tuple[TrainState, dict[str, jax.Array]]:
  """One update of every family. `loss_fn(params, model_state, batch, rngs,
  constants, step) -> (loss, (model_state, metrics))` is the task's objective
  with its model and config bound."""
  rngs = step_rngs(rng, state.step, rng_streams)

  def objective(params):
    return loss_fn(params, state.model_state, batch, rngs, constants, state.step)

  (loss, (model_state, task_metrics)), grads = jax.value_and_grad(
      objective, has_aux=True)(state.params)
  # The objective's value and a way to re-evaluate it go to the optimizer
  # too: L-BFGS's line search needs them; every other transform ignores them.
  updates, opt_state = tx.update(
      grads, state.opt_state, state.params, value=loss, grad=grads,
      value_fn=lambda params: objective(params)[0])
  if update_mask is not None:
    updates = jax.tree.map(jnp.multiply, updates, update_mask(updates, state.step))
  params = optax.apply_updates(state.params, updates)
  metrics = {
      'loss': loss,
      **task_metrics,
      'learning_rate': schedule(state.step),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
  }
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                            model_state=model_state)
  return new_state, metrics


def make_train_step(task, model, config, tx, schedule) -> Callable:
  """(state, rng, constants, batch) -> (state, metrics) for this task."""
  mask = (None if task.update_mask is None
          else functools.partial(task.update_mask, model=model, config=config))
  loss_fn = functools.partial(task.loss, model=model, config=config)
  return functools.partial(train_step, loss_fn=loss_fn, tx=tx,
                           schedule=schedule, rng_streams=task.rng_streams, update_mask=mask)


def _constants_sharding(constants, mesh):
  return jax.tree.map(lambda _: parallel.replicated(mesh), constants)


def compile_train_step(step_fn: Callable, feeder, state_shardings, constants, mesh, *,
                       seed_axes: tuple | None = None):
  """jit(state, rng, constants, *feeder.train_args(step)) -> (state, metrics),
  the state donated. The feeder's `train_batch` builds the batch inside the
  program (e.g. gathers rows of device-resident data by index). With
  `seed_axes` (one entry per train arg: 0 if it has a seed axis, else None),
  state, rng and metrics carry a leading seed axis and the step is vmapped."""
  repl = parallel.replicated(mesh)

  def one(state, rng, constants, *args):
    return step_fn(state, rng, constants, feeder.train_batch(*args))

  fn = one if seed_axes is None else jax.vmap(one, in_axes=(0, 0, None, *seed_axes))
  return jax.jit(
      fn, in_shardings=(state_shardings, repl, _constants_sharding(constants, mesh),
                        *feeder.train_arg_shardings),
      out_shardings=(state_shardings, repl), donate_argnums=(0,))


def _stacked_sharding(sharding):
  """A per-step argument's sharding with a leading axis of steps in front."""
  return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec(None, *sharding.spec))


def _stack(*xs):
  return jnp.stack(xs)


class TrainChunk:
  """`length` training steps as one compiled program (`lax.scan` over the
  steps), for devices where dispatching a small model's step costs more than
  computing it (GPUs and TPUs at batch 128: research/train.py runs it when
  `steps_per_dispatch` > 1). Each scanned step is the single step's program
  (the same `step_fn`, key folded with the step, batch built in the program),
  so a chunk computes what `length` single calls do; metrics come back with
  a leading axis of steps.

  The feeder's arguments for steps s .. s + length - 1 are passed once where
  they are the same object at every step (a device-resident dataset) and
  stacked along a new leading axis otherwise (each step's batch indices).
  """

  def __init__(self, step_fn: Callable, feeder, state_shardings, constants, mesh, length: int,
               *, seed_axes: tuple | None = None):
    if length < 2:
      raise ValueError(f'A chunk is at least 2 steps (got {length}).')
    self.length = length
    self._feeder = feeder
    self._state_shardings, self._constants, self._mesh = state_shardings, constants, mesh

    def one(state, rng, constants, *args):
      return step_fn(state, rng, constants, feeder.train_batch(*args))

    self._step = one if seed_axes is None else jax.vmap(one, in_axes=(0, 0, None, *seed_axes))
    self._per_step: tuple[bool, ...] | None = None  # which arguments change per step
    self._fn = None
    self._stackers: list = []  # per argument: a compiled stack, or None if passed once

  def _compile(self, per_step: tuple[bool, ...]):
    self._per_step = per_step
    step, repl = self._step, parallel.replicated(self._mesh)
    arg_shardings = tuple(_stacked_sharding(s) if p else s
                          for s, p in zip(self._feeder.train_arg_shardings, per_step))

    def chunk(state, rng, constants, *args):
      def body(state, xs):
        xs = iter(xs)
        full = [next(xs) if p else a for a, p in zip(args, per_step)]
        return step(state, rng, constants, *full)
      return jax.lax.scan(body, state, tuple(a for a, p in zip(args, per_step) if p))

    self._fn = jax.jit(
        chunk, in_shardings=(self._state_shardings, repl,
                             _constants_sharding(self._constants, self._mesh), *arg_shardings),
        out_shardings=(self._state_shardings, repl), donate_argnums=(0,))
    self._stackers = [jax.jit(_stack, out_shardings=sh) if p else None
                      for sh, p in zip(arg_shardings, per_step)]

  def args(self, start: int) -> tuple:
    """The chunk's arguments for steps start .. start + length - 1."""
    per_step_args = [self._feeder.train_args(s) for s in range(start, start + self.length)]
    first = per_step_args[0]
    per_step = tuple(any(a[i] is not first[i] for a in per_step_args[1:])
                     for i in range(len(first)))
    if self._fn is None:
      self._compile(per_step)
    elif per_step != self._per_step:
      raise ValueError('The feeder changed which of its arguments vary per step.')
    return tuple(stack(*[a[i] for a in per_step_args]) if stack is not None else first[i]
                 for i, stack in enumerate(self._stackers))

  def lower(self, state, rng, constants, *args):
    return self._fn.lower(state, rng, constants, *args)

  def __call__(self, state, rng, constants, *args):
    return self._fn(state, rng, constants, *args)


def compile_eval_step(task, model, config, feeder, state_shardings, constants, mesh, *,
                      seeds: bool = False):
  """jit(state, constants, carry, *feeder.eval_args(split)[i]) -> (sums, carry),
  the carry (a per-row state, split over the batch) donated. With `seeds`,
  the state has a seed axis and every seed scores the same batch."""
  eval_fn = functools.partial(task.eval_step, model=model, config=config)

  def one(state, constants, carry, batch):
    return eval_fn(state.params, state.model_state, batch, carry, constants)

  def run(state, constants, carry, *args):
    batch = feeder.eval_batch(*args)
    if seeds:
      return jax.vmap(one, in_axes=(0, None, 0, None))(state, constants, carry, batch)
    return one(state, constants, carry, batch)

  return jax.jit(
      run, in_shardings=(state_shardings, _constants_sharding(constants, mesh),
                         parallel.batch_sharded(mesh), *feeder.eval_arg_shardings),
      out_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
      donate_argnums=(2,))


def compile_eval_batch(task, model, config) -> Callable:
  """jit(params, model_state, batch, carry, constants) -> (sums, carry): the
  task's eval step on one host-given batch, without shardings, for one-off
  checks on one host (research/torch_export.py's objective at the start)."""
  return jax.jit(functools.partial(task.eval_step, model=model, config=config))


def run_keys(seeds: int | Sequence[int], mesh) -> tuple[jax.Array, jax.Array]:
  """(init key, step key) of a run, split from its seed; with a sequence of
  seeds, one pair per seed along a leading axis (each as that seed's single
  run splits it). Made by a compiled program whose outputs are replicated
  over the mesh, so on several hosts they are global arrays every process
  can pass to the compiled steps."""
  def split(seed):
    init_key, step_key = jax.random.split(jax.random.key(seed))
    return init_key, step_key

  repl = parallel.replicated(mesh)
  if isinstance(seeds, int):
    return jax.jit(lambda: split(seeds), out_shardings=(repl, repl))()
  seeds_S = tuple(int(s) for s in seeds)
  return jax.jit(lambda: jax.vmap(split)(jnp.asarray(seeds_S, jnp.uint32)),
                 out_shardings=(repl, repl))()


def compile_init(init_fn: Callable, shardings) -> Callable:
  """rng -> state, every leaf written straight into its sharding."""
  return jax.jit(init_fn, out_shardings=shardings)
