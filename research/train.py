"""Training and evaluation for every experiment: `train_and_evaluate(config, workdir)`.

flags -> config -> task (`research.tasks.TASKS`) -> feeder and model ->
the trainer's compiled step (`research.step`) -> the loop -> the workdir
(`research.workdir`). The pieces are importable on their own
(`check_config`, `build_model`, `create_train_state`, `compile_steps`,
`evaluate`, `train_loop`) so tests, notebooks and `research.multiseed` reuse them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import (checkpoint, config_lib, errors, fileio, hostmem, optim, parallel,
                      preemption, writers)
from research import step as step_lib
from research import workdir as workdir_lib
from research.tasks import TASKS, FittedTask, Task
from research.train_state import TrainState


def check_config(config: ml_collections.ConfigDict) -> None:
  """Resolves every name in the config; raises ConfigError before any work."""
  config_lib.check_choice('task', config.task, TASKS)
  task = TASKS[config.task]
  if isinstance(task, FittedTask):
    task.check_config(config)
    return
  config_lib.check_choice('dataset', config.dataset.name, task.datasets)
  config_lib.check_choice('model', config.model.name, task.models)
  config_lib.check_choice('optimizer', config.optimizer.name, dict.fromkeys(optim.OPTIMIZERS))
  config_lib.check_choice('schedule', config.schedule.name, dict.fromkeys(optim.SCHEDULES))
  model_cls = task.models[config.model.name]
  fields = ({f.name for f in dataclasses.fields(model_cls)}
            - {'parent', 'name'} - set(task.data_model_fields))
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
    if not fileio.isdir(workdir_lib.checkpoints_dir(config.init_from.workdir)):
      raise errors.ConfigError(
          f'init_from.workdir {config.init_from.workdir!r} has no checkpoints: train it '
          'first (e.g. python -m launch.train --config=configs/fashion_mnist_autoencoder.py '
          f'--workdir={config.init_from.workdir}).')
  if 'pretrained' in config and config.pretrained.name is not None:
    from research import pretrained
    config_lib.check_choice('pretrained', config.pretrained.name, pretrained.WEIGHTS)
  task.check_config(config)


def build_model(config, task: Task, feeder) -> nn.Module:
  """The config's model, completed with what the data decides (classes, vocabulary)."""
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  return task.models[config.model.name](**feeder.model_kwargs, **kwargs)


def num_train_steps(config, steps_per_epoch: int) -> int:
  """`num_train_steps` if set, else `num_epochs` worth of steps."""
  if config.num_train_steps is not None:
    return int(config.num_train_steps)
  return int(round(config.num_epochs * steps_per_epoch))


def make_init_fn(task: Task, model, tx, feeder) -> Callable[[jax.Array], TrainState]:
  """rng -> a fresh TrainState (step 0), a pure function to trace or vmap."""
  init_variables = task.init_variables(model, feeder)

  def init_fn(rng):
    params, model_state = init_variables(rng)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state=tx.init(params), model_state=model_state)

  return init_fn


def create_train_state(task: Task, model, tx, feeder, rng, mesh) -> TrainState:
  """Initialises params and optimizer state directly with their shardings."""
  init_fn = make_init_fn(task, model, tx, feeder)
  # Shapes first (nothing allocated), then one compiled init that writes every
  # leaf straight into its sharding (the task's choice: params replicated,
  # per-example state such as a language model's carry split over the batch).
  abstract = jax.eval_shape(init_fn, rng)
  return step_lib.compile_init(init_fn, task.state_shardings(abstract, mesh))(rng)


def init_from_workdir(state: TrainState, init_from) -> TrainState:
  """Copies the top-level parameter groups `init_from.modules` of another
  workdir's latest checkpoint into a fresh state: e.g. a pre-trained deep
  autoencoder's encoder layers into a classifier with the same layer names
  (Hinton & Salakhutdinov 2006: fine-tuning for classification). Optional
  config key `init_from` (workdir, modules); the optimizer state stays fresh."""
  run = workdir_lib.load_run(init_from.workdir)
  source = run.params
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
              f'(step {run.step}).')
  return state.replace(params=params)


def init_from_pretrained(state: TrainState, pretrained_config) -> TrainState:
  """Copies every top-level parameter group of the pretrained weights
  `pretrained_config.name` (research/pretrained.py) that the model has with
  the same shapes (e.g. all of SqueezeNet but a classifier of another number
  of classes); the rest keeps its fresh init. `optimizer.frozen_modules`
  then freezes what should not be fine-tuned. A resumed run's checkpoint wins."""
  from research import pretrained
  source = pretrained.load(pretrained_config.name, pretrained_config.weights_dir)
  params = dict(state.params)
  shapes = lambda tree: jax.tree.map(lambda x: (tuple(x.shape), str(x.dtype)), tree)
  copied, skipped = [], []
  for name, group in source.items():
    if name in params and shapes(group) == shapes(params[name]):
      params[name] = jax.tree.map(lambda new, old: jax.device_put(new, old.sharding),
                                  group, params[name])
      copied.append(name)
    else:
      skipped.append(name)
  if not copied:
    raise errors.ConfigError(
        f'pretrained.name={pretrained_config.name!r}: none of its layers '
        f'({", ".join(sorted(source))}) fits model {sorted(params)} in name and shape.')
  writers.log(f'Initialised {len(copied)} of {len(source)} layer groups from the '
              f'{pretrained_config.name} weights' + (
                  f' (kept fresh: {", ".join(skipped)})' if skipped else '') + '.')
  return state.replace(params=params)


def state_shardings(state: TrainState) -> Any:
  """The sharding of every leaf of a (created or restored) state."""
  return jax.tree.map(lambda x: x.sharding, state)


def evaluate(task: Task, eval_fn, state, feeder, constants) -> dict[str, float]:
  """Exact metrics over every example of every eval split: the feeder pads
  and masks, the eval step sums, and the sums accumulate on the host in
  float64 (scalars, or one sum per seed for `research.multiseed`). Fetching
  each batch's sums keeps at most one sharded computation in flight
  (back-to-back dispatch can deadlock CPU collectives)."""
  results = {}
  for split in feeder.eval_splits:
    carry = feeder.initial_eval_carry(state, split)
    totals: dict[str, Any] = {}
    for args in feeder.eval_args(split):
      sums, carry = eval_fn(state, constants, carry, *args)
      for k, v in jax.device_get(sums).items():
        v = np.asarray(v, np.float64)
        totals[k] = totals.get(k, 0.0) + (float(v) if v.ndim == 0 else v)
    results.update(task.summarize_eval(totals, split))
  return results


@dataclasses.dataclass
class LoopContext:
  """What the loop needs besides the state: compiled steps and their
  arguments, data, outputs."""
  config: ml_collections.ConfigDict
  task: Task
  feeder: Any         # the task's Feeder (research.tasks.base)
  train_fn: Callable  # research.step.compile_train_step
  eval_fn: Callable   # research.step.compile_eval_step
  rng: jax.Array      # the run's step key (one per seed for research.multiseed)
  constants: Any      # the task's read-only arrays (a teacher), or None
  total_steps: int
  ckpt: Any           # checkpoint.Checkpointer, or multiseed.SeedCheckpointers
  writer: Any         # writers.MetricWriter, or multiseed.SeedWriters
  lock: Any = None    # workdir.WorkdirLock(s), refreshed as the loop runs
  # (state, step) -> None after each periodic evaluation: the task's pictures.
  on_eval: Callable | None = None
  chunk: Any = None   # step_lib.TrainChunk: several steps per dispatch, or None
  target: Target | None = None  # stop at the first evaluation that reaches it
  target_reached: dict[str, Any] | None = None  # set by train_loop when it does


@dataclasses.dataclass(frozen=True)
class Target:
  """Stop training at the first periodic evaluation where `metric` reaches
  `value` (at least it; at most it for losses and error rates): the run
  control behind time-to-accuracy figures (launch/time_to_accuracy.py)."""
  metric: str
  value: float

  @property
  def lower_is_better(self) -> bool:
    return self.metric.endswith(('loss', 'error', 'wer', 'cer', 'perplexity', 'bits_per_char'))

  def reached(self, results: dict[str, Any]) -> bool:
    if self.metric not in results:
      raise errors.ConfigError(
          f'target metric {self.metric!r} is not among the evaluation metrics '
          f'{sorted(results)}.')
    value = float(results[self.metric])
    return value <= self.value if self.lower_is_better else value >= self.value


@contextlib.contextmanager
def closing_on_error(*closeables):
  """Closes the writer and checkpointer after the block. If the block failed,
  a second failure while closing (the same full disk) does not replace the
  first, which says what happened."""
  try:
    yield
  except BaseException:
    for c in closeables:
      try:
        c.close()
      except Exception:  # noqa: BLE001 (the block's error is the one to report)
        pass
    raise
  for c in closeables:
    c.close()


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
  """Runs from state.step to ctx.total_steps; returns (state, train seconds).
  With `ctx.chunk`, whole chunks of steps go in one dispatch wherever one fits
  (its length divides the logging, evaluation and checkpoint intervals, so
  every boundary falls between chunks); the steps left at the end go singly."""
  # One step counter, or one per seed, all equal (research/multiseed.py).
  config, start = ctx.config, int(np.max(jax.device_get(state.step)))
  chunk_len = ctx.chunk.length if ctx.chunk is not None else 1
  compiled: dict[int, Callable] = {}  # steps per dispatch -> compiled program

  def program(n: int, args: tuple) -> tuple[Callable, float]:
    """The compiled program for n steps per dispatch and the seconds spent
    compiling it now (0 once compiled): compilation stays out of steps/s,
    the ETA and train_seconds, and gets its own line."""
    if n in compiled:
      return compiled[n], 0.0
    compile_t0 = time.perf_counter()
    fn = ctx.chunk if n > 1 else ctx.train_fn
    compiled[n] = fn.lower(state, ctx.rng, ctx.constants, *args).compile()
    seconds = time.perf_counter() - compile_t0
    what = f'a chunk of {n} train steps' if n > 1 else 'the train step'
    writers.log(f'Compiled {what} in {seconds:.1f} s.')
    return compiled[n], seconds

  def dispatch_size(step: int) -> int:
    fits = step % chunk_len == 0 and step + chunk_len <= ctx.total_steps
    return chunk_len if chunk_len > 1 and fits else 1

  def args_for(step: int, n: int) -> tuple:
    return ctx.chunk.args(step) if n > 1 else ctx.feeder.train_args(step)

  if start < ctx.total_steps:
    n = dispatch_size(start)
    program(n, args_for(start, n))
  progress = writers.Progress(ctx.total_steps, start)
  interval: list[dict[str, float]] = []
  pending = None  # (first step, metrics, steps) of the last dispatch, fetched late
  t0 = time.perf_counter()

  def drain():
    # Fetch the previous dispatch's metrics after dispatching the next one, so
    # the host never stalls the device (at most two dispatches in flight).
    nonlocal pending
    if pending is not None:
      first, m, n = pending
      m = {k: np.asarray(v, np.float64) for k, v in jax.device_get(m).items()}
      for i in range(n):  # a chunk's metrics have a leading axis of steps
        m_i = {k: v[i] for k, v in m.items()} if n > 1 else m
        _check_finite(first + i, m_i, ctx.ckpt)
        interval.append(m_i)
      pending = None

  watch = preemption.PreemptionWatch()
  try:
    step = start
    while step < ctx.total_steps:
      n = dispatch_size(step)
      args = args_for(step, n)
      fn, compile_seconds = program(n, args)  # the steps left after the last chunk
      t0 += compile_seconds
      progress.pause(compile_seconds)
      state, metrics = fn(state, ctx.rng, ctx.constants, *args)
      drain()
      pending = (step, metrics, n)
      done = step = step + n
      is_last = done == ctx.total_steps
      if done % config.log_every_steps == 0 or is_last:
        drain()
        # Mean over the interval's steps (per seed when metrics carry a seed axis).
        scalars = {k: np.mean([m[k] for m in interval], axis=0) for k in interval[0]}
        scalars.update(progress.update(done))
        interval.clear()
        ctx.writer.write(done, scalars)
        writers.log(writers.format_progress(done, ctx.total_steps, scalars))
        if ctx.lock is not None:
          ctx.lock.heartbeat()
      # Every process asks after every dispatch (the multi-host protocol needs it).
      preempted = watch.reached(done) and not is_last
      saved = ctx.ckpt.should_save(done) or is_last or preempted
      if saved:
        drain()
        elapsed = train_seconds + time.perf_counter() - t0
        ctx.ckpt.save(done, state, {'train_seconds': elapsed}, force=is_last or preempted)
        ctx.writer.flush(force=True)  # Metrics up to a checkpoint outlive a kill.
      if preempted:
        ctx.ckpt.wait()
        raise preemption.Preempted(done)
      if (config.eval_every_steps and done % config.eval_every_steps == 0 and not is_last):
        drain()
        eval_t0 = time.perf_counter()
        results = evaluate(ctx.task, ctx.eval_fn, state, ctx.feeder, ctx.constants)
        ctx.writer.write(done, results)
        writers.log(f'step {done}: ' + writers.format_scalars(results))
        if ctx.on_eval is not None:
          ctx.on_eval(state, done)
        eval_seconds = time.perf_counter() - eval_t0
        t0 += eval_seconds  # Eval time is not train time,
        progress.pause(eval_seconds)  # nor in the steps/s of the interval.
        if ctx.target is not None and ctx.target.reached(results):
          ctx.target_reached = {'target_metric': ctx.target.metric,
                                'target_value': ctx.target.value, 'target_step': done,
                                'target_process_seconds': writers.process_seconds()}
          writers.log(f'Reached {ctx.target.metric} {float(results[ctx.target.metric]):.4f} '
                      f'(target {ctx.target.value:g}) at step {done}, '
                      f'{ctx.target_reached["target_process_seconds"]:.1f} s after the '
                      'process started; training stops here.')
          if not saved:  # This step's periodic checkpoint may already hold it.
            ctx.ckpt.save(done, state,
                          {'train_seconds': train_seconds + time.perf_counter() - t0}, force=True)
            ctx.writer.flush(force=True)
          break
  finally:
    watch.close()
  drain()
  return state, train_seconds + time.perf_counter() - t0


def check_steps_per_dispatch(config, steps_per_dispatch: int) -> None:
  """Chunks of steps must end where the loop logs, evaluates and saves."""
  if steps_per_dispatch < 1:
    raise errors.ConfigError(f'steps_per_dispatch={steps_per_dispatch}: at least 1.')
  if steps_per_dispatch == 1:
    return
  intervals = {'log_every_steps': config.log_every_steps,
               'eval_every_steps': config.eval_every_steps,
               'checkpoint_every_steps': config.checkpoint_every_steps}
  wrong = {k: v for k, v in intervals.items() if v and v % steps_per_dispatch}
  if wrong:
    raise errors.ConfigError(
        f'steps_per_dispatch={steps_per_dispatch} must divide '
        + ', '.join(f'config.{k}={v}' for k, v in wrong.items())
        + ' (chunks of steps end where the loop logs, evaluates and saves).')


def make_chunk(task: Task, model, config, tx, schedule, feeder, state, constants, mesh,
               steps_per_dispatch: int, *, seed_axes: tuple | None = None):
  """A TrainChunk of `steps_per_dispatch` steps, or None for one step per dispatch."""
  if steps_per_dispatch == 1:
    return None
  return step_lib.TrainChunk(step_lib.make_train_step(task, model, config, tx, schedule),
                             feeder, state_shardings(state), constants, mesh,
                             steps_per_dispatch, seed_axes=seed_axes)


def compile_steps(task: Task, model, config, tx, schedule, feeder, state, constants, mesh,
                  *, seed_axes: tuple | None = None) -> tuple[Callable, Callable]:
  """(train_fn, eval_fn) compiled for the state's shardings (research.step)."""
  shardings = state_shardings(state)
  train_fn = step_lib.compile_train_step(
      step_lib.make_train_step(task, model, config, tx, schedule), feeder, shardings, constants,
      mesh, seed_axes=seed_axes)
  eval_fn = step_lib.compile_eval_step(task, model, config, feeder, shardings, constants, mesh,
                                   seeds=seed_axes is not None)
  return train_fn, eval_fn


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       target: Target | None = None,
                       steps_per_dispatch: int = 1) -> dict[str, Any]:
  """Trains (resuming from `workdir` if it holds checkpoints), evaluates on the
  eval split(s), and writes config.json, metrics, checkpoints and results.json.
  Closed-form baselines (n-grams, PCA) are fitted by their FittedTask. With a
  `target`, training stops at the first periodic evaluation that reaches it
  (results.json then says when: `target_step`, `target_process_seconds`).
  `steps_per_dispatch` > 1 runs that many steps per dispatch (TrainChunk;
  for small models on accelerators), with the same results."""
  workdir_lib.check_workdir(workdir)
  check_config(config)
  hostmem.use_heap_for_large_buffers()
  task = TASKS[config.task]
  if isinstance(task, FittedTask):
    if target is not None:
      raise errors.ConfigError(f'Task {config.task!r} is fitted, not trained: no target to stop at.')
    with workdir_lib.in_use(workdir):
      return task.fit_and_evaluate(config, workdir)
  check_steps_per_dispatch(config, steps_per_dispatch)
  if target is not None and not config.eval_every_steps:
    raise errors.ConfigError('A target needs periodic evaluations: set '
                             '--config.eval_every_steps (e.g. one epoch of steps).')
  mesh = parallel.make_mesh()
  feeder = task.make_feeder(config, mesh)
  constants = task.load_constants(config, feeder, mesh)
  # Everything above can fail on bad input; nothing is written before here.
  with workdir_lib.in_use(workdir) as lock:
    return train_in_workdir(config, workdir, task, mesh, feeder, constants, lock, target,
                            steps_per_dispatch)


def train_in_workdir(config, workdir: str, task: Task, mesh, feeder, constants,
                     lock: workdir_lib.WorkdirLock, target: Target | None = None,
                     steps_per_dispatch: int = 1) -> dict[str, Any]:
  """The part of train_and_evaluate that writes: with the workdir's lock held."""
  workdir_lib.prepare(workdir, config)
  task.sync_workdir(workdir, config, feeder, constants)
  model = build_model(config, task, feeder)
  total_steps = num_train_steps(config, feeder.steps_per_epoch)
  tx, schedule = optim.make_optimizer(config, total_steps)
  init_rng, step_rng = step_lib.run_keys(config.seed, mesh)
  state = create_train_state(task, model, tx, feeder, init_rng, mesh)
  if 'init_from' in config and config.init_from.workdir is not None:
    state = init_from_workdir(state, config.init_from)  # A resumed run's checkpoint wins.
  if 'pretrained' in config and config.pretrained.name is not None:
    state = init_from_pretrained(state, config.pretrained)
  ckpt = checkpoint.Checkpointer(
      workdir_lib.checkpoints_dir(workdir), every_steps=config.checkpoint_every_steps,
      max_to_keep=config.keep_checkpoints)
  train_seconds = 0.0
  if (restored := ckpt.restore_intact(checkpoint.abstract_like(state))) is not None:
    latest, state, meta = restored
    train_seconds = meta['train_seconds']
    writers.log(f'Resumed from step {latest} in {workdir}.')

  train_fn, eval_fn = compile_steps(task, model, config, tx, schedule, feeder, state,
                                    constants, mesh)
  writer = writers.MetricWriter(workdir, tensorboard=config.tensorboard)
  on_eval = None
  if config.plot and task.plot_eval is not None and jax.process_index() == 0:
    on_eval = lambda state, step: task.plot_eval(workdir, config, model, state, feeder, step)
  ctx = LoopContext(config=config, task=task, feeder=feeder, train_fn=train_fn,
                    eval_fn=eval_fn, rng=step_rng, constants=constants,
                    total_steps=total_steps, ckpt=ckpt, writer=writer, lock=lock,
                    on_eval=on_eval, target=target,
                    chunk=make_chunk(task, model, config, tx, schedule, feeder, state, constants,
                                     mesh, steps_per_dispatch))
  writers.log(f'{config.task}: {config.model.name} on {config.dataset.name}: '
              f'{num_params(state.params):,} params, {total_steps} steps '
              f'({total_steps / feeder.steps_per_epoch:.1f} epochs), '
              f'{jax.device_count()} device(s).')
  with closing_on_error(writer, ckpt):
    state, train_seconds = train_loop(ctx, state, train_seconds)
    steps = total_steps if ctx.target_reached is None else ctx.target_reached['target_step']
    results = evaluate(task, eval_fn, state, feeder, constants)
    if task.final_results is not None:
      results.update(task.final_results(workdir, config, model, state, feeder))
    writer.write(steps, results)
  results.update(
      steps=steps, train_seconds=train_seconds,
      examples_per_second=steps * config.batch_size / max(train_seconds, 1e-9),
      num_params=num_params(state.params), num_devices=jax.device_count(),
      dataset=config.dataset.name, model=config.model.name)
  results.update(best_during_training(task, workdir))
  results.update(ctx.target_reached or {})
  workdir_lib.write_results(workdir, results)
  if config.plot and jax.process_index() == 0:
    task.plot_run(workdir, config, model, state, feeder)
  writers.log(f'Final ({workdir_lib.RESULTS_FILE} in {workdir}): ' + writers.format_scalars(
      {k: v for k, v in results.items() if isinstance(v, (int, float))}))
  return results


def best_during_training(task: Task, workdir: str) -> dict[str, Any]:
  """For each of the task's best_during_training metrics ({name: max or min}):
  its best value over every evaluation in the workdir's metrics.jsonl (the
  periodic ones and the final one) as `best_NAME`, and the step as
  `best_NAME_step`. Papers that report the best test figure seen during
  training (e.g. MNIST-1D's reference code) are compared with these."""
  if jax.process_index() != 0:
    return {}  # Only process 0 writes (and so may read) the metrics file.
  records = writers.read_metrics(workdir)
  best = {}
  for name, pick in task.best_during_training.items():
    seen = [(r[name], r['step']) for r in records if isinstance(r.get(name), (int, float))]
    if seen:
      # Ties go to the earliest step.
      value, step = pick(seen, key=lambda vs: (vs[0], -vs[1] if pick is max else vs[1]))
      best[f'best_{name}'], best[f'best_{name}_step'] = value, step
  return best


def num_params(params) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
