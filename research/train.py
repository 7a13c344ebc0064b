"""Training and evaluation for every experiment: `train_and_evaluate(config, workdir)`.

The pieces are importable on their own (`check_config`, `create_train_state`,
`make_train_fn`, `evaluate`, `train_loop`) so tests and notebooks reuse them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import checkpoint, config_lib, errors, optim, parallel, preemption, writers
from research.data import DATASETS
from research.tasks import COUNT_BASED_TASKS, TASKS
from research.train_state import TrainState

# Keys that may differ when a workdir is resumed (they do not change the math
# of the steps already taken): extending a run or logging differently is fine.
RESUMABLE_CHANGES = frozenset({
    'num_train_steps', 'num_epochs', 'log_every_steps', 'eval_every_steps',
    'checkpoint_every_steps', 'keep_checkpoints', 'tensorboard', 'plot',
    'dataset.data_dir', 'dataset.download',
})


def check_config(config: ml_collections.ConfigDict) -> None:
  """Resolves every name in the config; raises ConfigError before any work."""
  config_lib.check_choice('task', config.task, {**TASKS, **COUNT_BASED_TASKS})
  if config.task in COUNT_BASED_TASKS:
    COUNT_BASED_TASKS[config.task].check_config(config)
    return
  task = TASKS[config.task]
  config_lib.check_choice('dataset', config.dataset.name, DATASETS)
  config_lib.check_choice('model', config.model.name, task.MODELS)
  config_lib.check_choice('optimizer', config.optimizer.name, dict.fromkeys(optim.OPTIMIZERS))
  config_lib.check_choice('schedule', config.schedule.name, dict.fromkeys(optim.SCHEDULES))
  model_cls = task.MODELS[config.model.name]
  fields = ({f.name for f in dataclasses.fields(model_cls)}
            - {'parent', 'name'} - set(task.DATA_MODEL_FIELDS))
  unknown = set(config.model) - fields - {'name'}
  if unknown:
    raise errors.ConfigError(
        f'model {config.model.name!r} has no option(s) {sorted(unknown)}; '
        f'it accepts {sorted(fields)}.')
  n_dev = jax.device_count()
  for key in ('batch_size', 'eval_batch_size'):
    if config[key] <= 0 or config[key] % n_dev:
      raise errors.ConfigError(
          f'{key}={config[key]} must be a positive multiple of the {n_dev} devices.')
  if config.num_train_steps is None and config.num_epochs is None:
    raise errors.ConfigError('Set num_train_steps or num_epochs.')
  if 'init_from' in config and config.init_from.workdir is not None:
    if not os.path.isdir(os.path.join(config.init_from.workdir, 'checkpoints')):
      raise errors.ConfigError(
          f'init_from.workdir {config.init_from.workdir!r} has no checkpoints: train it '
          'first (e.g. python -m launch.train --config=configs/fashion_mnist_autoencoder.py '
          f'--workdir={config.init_from.workdir}).')
  task.check_config(config)


def build_model(config, feeder) -> nn.Module:
  """The config's model, completed with what the data decides (classes, vocabulary)."""
  task = TASKS[config.task]
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  return task.MODELS[config.model.name](**feeder.model_kwargs, **kwargs)


def num_train_steps(config, steps_per_epoch: int) -> int:
  """`num_train_steps` if set, else `num_epochs` worth of steps."""
  if config.num_train_steps is not None:
    return int(config.num_train_steps)
  return int(round(config.num_epochs * steps_per_epoch))


def make_init_fn(config, model, tx, feeder):
  """rng -> a fresh TrainState (step 0), a pure function to trace or vmap."""
  init_variables = TASKS[config.task].init_variables(model, feeder)

  def init_fn(rng):
    params, model_state = init_variables(rng)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state=tx.init(params), model_state=model_state)

  return init_fn


def create_train_state(config, model, tx, feeder, rng, mesh) -> TrainState:
  """Initialises params and optimizer state directly with their shardings."""
  init_fn = make_init_fn(config, model, tx, feeder)
  # Shapes first (nothing allocated), then one compiled init that writes every
  # leaf straight into its sharding (the task's choice: params replicated,
  # per-example state such as a language model's carry split over the batch).
  abstract = jax.eval_shape(init_fn, rng)
  shardings = TASKS[config.task].state_shardings(abstract, mesh)
  return jax.jit(init_fn, out_shardings=shardings)(rng)


def init_from_workdir(state: TrainState, init_from) -> TrainState:
  """Copies the top-level parameter groups `init_from.modules` of another
  workdir's latest checkpoint into a fresh state: e.g. a pre-trained deep
  autoencoder's encoder layers into a classifier with the same layer names
  (Hinton & Salakhutdinov 2006: fine-tuning for classification). Optional
  config key `init_from` (workdir, modules); the optimizer state stays fresh."""
  step, source = checkpoint.latest_params(init_from.workdir)
  params = dict(state.params)
  for name in init_from.modules:
    if name not in source or name not in params:
      where = init_from.workdir if name not in source else 'this model'
      raise errors.ConfigError(
          f'init_from.modules names {name!r}, which {where} lacks (source has '
          f'{sorted(source)}, this model {sorted(params)}).')
    want = jax.tree.map(lambda x: x.shape, params[name])
    got = jax.tree.map(lambda x: x.shape, source[name])
    if want != got:
      raise errors.ConfigError(
          f'init_from: {name!r} has shapes {got} in {init_from.workdir}, {want} here.')
    params[name] = jax.tree.map(lambda new, old: jax.device_put(new, old.sharding),
                                source[name], params[name])
  writers.log(f'Initialised {", ".join(init_from.modules)} from {init_from.workdir} '
              f'(step {step}).')
  return state.replace(params=params)


def state_shardings(state: TrainState) -> Any:
  """The sharding of every leaf of a (created or restored) state."""
  return jax.tree.map(lambda x: x.sharding, state)


def make_train_fn(config, model, tx, schedule, rng, feeder, shardings):
  """The task's pure train step `(state, batch) -> (state, metrics)`, jitted by
  the feeder (which owns how a batch reaches the devices) with the state in
  and out in `shardings` (see `state_shardings`); the state is donated."""
  step_fn = TASKS[config.task].bind_train_step(config, model, tx, schedule, rng)
  return feeder.make_train_fn(step_fn, shardings)


def make_eval_fn(config, model, feeder, shardings):
  return feeder.make_eval_fn(TASKS[config.task].bind_eval_step(config, model), shardings)


def evaluate(task, eval_fn, state, feeder) -> dict[str, float]:
  """Exact metrics over every evaluation example (the feeder pads and masks)."""
  results = {}
  for prefix, sums in feeder.run_eval(eval_fn, state).items():
    results.update(task.summarize_eval(sums, prefix))
  return results


def prepare_workdir(workdir: str, config) -> None:
  """Writes config.json, or checks that a resumed run has a compatible config."""
  path = os.path.join(workdir, 'config.json')
  new = json.loads(config.to_json_best_effort())  # tuples -> lists, as on disk
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      old = json.load(f)
    changed = sorted(k for k in _flat_keys(old) | _flat_keys(new)
                     if _get(old, k) != _get(new, k) and k not in RESUMABLE_CHANGES)
    if changed:
      raise errors.ConfigError(
          f'Workdir {workdir!r} holds a run with a different config '
          f'(changed: {", ".join(changed)}). Use a new --workdir, or the same config.')
  # Every process has checked the old file before process 0 replaces it.
  parallel.sync_processes('prepare_workdir')
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
      json.dump(new, f, indent=2, sort_keys=True)
    os.replace(path + '.tmp', path)


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


@dataclasses.dataclass
class LoopContext:
  """What the loop needs besides the state: compiled steps, data, outputs."""
  config: ml_collections.ConfigDict
  feeder: Any  # the task's feeder (research/data/pipeline.py)
  train_fn: Any
  eval_fn: Any
  total_steps: int
  ckpt: checkpoint.Checkpointer
  writer: writers.MetricWriter


def _check_finite(step: int, metrics: dict[str, Any], ckpt: checkpoint.Checkpointer):
  # Metrics are scalars, or arrays with one value per seed (research/multiseed.py).
  if not (np.all(np.isfinite(metrics['loss'])) and np.all(np.isfinite(metrics['grad_norm']))):
    ckpt.wait()
    raise errors.NonFiniteLossError(
        f'Non-finite training loss at step {step} (loss={metrics["loss"]}, '
        f'grad_norm={metrics["grad_norm"]}); training stopped. The last good '
        f'checkpoint is step {ckpt.latest_step()}; lower the learning rate or '
        'enable optimizer.grad_clip_norm.')


def train_loop(ctx: LoopContext, state: TrainState, train_seconds: float) -> tuple[TrainState, float]:
  """Runs from state.step to ctx.total_steps; returns (state, train seconds)."""
  # One step counter, or one per seed, all equal (research/multiseed.py).
  config, start = ctx.config, int(np.max(jax.device_get(state.step)))
  progress = writers.Progress(ctx.total_steps, start)
  interval: list[dict[str, float]] = []
  pending = None  # (step, metrics) of the last dispatched step, fetched late
  t0 = time.perf_counter()

  def drain():
    # Fetch the previous step's metrics after dispatching the next one, so the
    # host never stalls the device (at most two steps in flight).
    nonlocal pending
    if pending is not None:
      step, m = pending
      m = {k: np.asarray(v, np.float64) for k, v in jax.device_get(m).items()}
      _check_finite(step, m, ctx.ckpt)
      interval.append(m)
      pending = None

  watch = preemption.PreemptionWatch()
  try:
    for step in range(start, ctx.total_steps):
      state, metrics = ctx.train_fn(state, *ctx.feeder.train_args(step))
      drain()
      pending = (step, metrics)
      done = step + 1
      is_last = done == ctx.total_steps
      if done % config.log_every_steps == 0 or is_last:
        drain()
        # Mean over the interval's steps (per seed when metrics carry a seed axis).
        scalars = {k: np.mean([m[k] for m in interval], axis=0) for k in interval[0]}
        scalars.update(progress.update(done))
        interval.clear()
        ctx.writer.write(done, scalars)
        writers.log(writers.format_progress(done, ctx.total_steps, scalars))
      # Every process asks at every step (the multi-host protocol needs it).
      preempted = watch.reached(done) and not is_last
      if ctx.ckpt.should_save(done) or is_last or preempted:
        drain()
        elapsed = train_seconds + time.perf_counter() - t0
        ctx.ckpt.save(done, state, {'train_seconds': elapsed}, force=is_last or preempted)
      if preempted:
        ctx.ckpt.wait()
        raise preemption.Preempted(done)
      if (config.eval_every_steps and done % config.eval_every_steps == 0 and not is_last):
        drain()
        eval_t0 = time.perf_counter()
        results = evaluate(TASKS[config.task], ctx.eval_fn, state, ctx.feeder)
        ctx.writer.write(done, results)
        writers.log(f'step {done}: ' + writers.format_scalars(results))
        t0 += time.perf_counter() - eval_t0  # Eval time is not train time.
  finally:
    watch.close()
  drain()
  return state, train_seconds + time.perf_counter() - t0


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains (resuming from `workdir` if it holds checkpoints), evaluates on the
  eval split, and writes config.json, metrics, checkpoints and results.json.
  Count-based models (n-grams) are fitted by their task's own function."""
  check_config(config)
  if config.task in COUNT_BASED_TASKS:
    return COUNT_BASED_TASKS[config.task].train_and_evaluate(config, workdir)
  mesh = parallel.make_mesh()
  feeder = TASKS[config.task].make_feeder(config, mesh)
  prepare_workdir(workdir, config)
  feeder.sync_workdir(workdir)
  model = build_model(config, feeder)
  total_steps = num_train_steps(config, feeder.steps_per_epoch)
  tx, schedule = optim.make_optimizer(config, total_steps)
  init_rng, step_rng = jax.random.split(jax.random.key(config.seed))
  state = create_train_state(config, model, tx, feeder, init_rng, mesh)

  if 'init_from' in config and config.init_from.workdir is not None:
    state = init_from_workdir(state, config.init_from)  # A resumed run's checkpoint wins.
  ckpt = checkpoint.Checkpointer(
      os.path.join(workdir, 'checkpoints'), every_steps=config.checkpoint_every_steps,
      max_to_keep=config.keep_checkpoints)
  train_seconds = 0.0
  if (latest := ckpt.latest_step()) is not None:
    state, meta = ckpt.restore(latest, checkpoint.abstract_like(state))
    train_seconds = meta['train_seconds']
    writers.log(f'Resumed from step {latest} in {workdir}.')

  writer = writers.MetricWriter(workdir, tensorboard=config.tensorboard)
  ctx = LoopContext(
      config=config, feeder=feeder,
      train_fn=make_train_fn(config, model, tx, schedule, step_rng, feeder,
                             state_shardings(state)),
      eval_fn=make_eval_fn(config, model, feeder, state_shardings(state)),
      total_steps=total_steps, ckpt=ckpt, writer=writer)
  writers.log(f'{config.task}: {config.model.name} on {config.dataset.name}: '
              f'{num_params(state.params):,} params, {total_steps} steps '
              f'({total_steps / feeder.steps_per_epoch:.1f} epochs), '
              f'{jax.device_count()} device(s).')
  try:
    state, train_seconds = train_loop(ctx, state, train_seconds)
    results = evaluate(TASKS[config.task], ctx.eval_fn, state, feeder)
    writer.write(total_steps, results)
  finally:
    writer.close()
    ckpt.close()
  results.update(
      steps=total_steps, train_seconds=train_seconds,
      examples_per_second=total_steps * config.batch_size / max(train_seconds, 1e-9),
      num_params=num_params(state.params), num_devices=jax.device_count(),
      dataset=config.dataset.name, model=config.model.name)
  results.update(best_during_training(TASKS[config.task], workdir))
  write_results(workdir, results, config)
  if config.plot and jax.process_index() == 0:
    TASKS[config.task].plot_run(workdir, config, model, state, feeder)
  writers.log('Final: ' + json.dumps(results))
  return results


def best_during_training(task, workdir: str) -> dict[str, Any]:
  """For each of the task's BEST_DURING_TRAINING metrics ({name: max or min}):
  its best value over every evaluation in the workdir's metrics.jsonl (the
  periodic ones and the final one) as `best_NAME`, and the step as
  `best_NAME_step`. Papers that report the best test figure seen during
  training (e.g. MNIST-1D's reference code) are compared with these."""
  if jax.process_index() != 0:
    return {}  # Only process 0 writes (and so may read) the metrics file.
  records = writers.read_metrics(workdir)
  best = {}
  for name, pick in task.BEST_DURING_TRAINING.items():
    seen = [(r[name], r['step']) for r in records if isinstance(r.get(name), (int, float))]
    if seen:
      # Ties go to the earliest step.
      value, step = pick(seen, key=lambda vs: (vs[0], -vs[1] if pick is max else vs[1]))
      best[f'best_{name}'], best[f'best_{name}_step'] = value, step
  return best


def num_params(params) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


def write_results(workdir: str, results: dict[str, Any], config) -> None:
  if jax.process_index() != 0:
    return
  with open(os.path.join(workdir, 'results.json'), 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=2, sort_keys=True)
