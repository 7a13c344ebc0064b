"""Measures a config's compiled training step (used by `launch.benchmark`).

Besides speed, the report holds the objective at the start and after the
first step (`loss_at_start`, `loss_after_first_step`), against which the
Gatys twin in another framework (research/torch_twin.py) checks its own;
`benchmark(at_start=...)` hands the starting point (`StartingPoint`) to a
model twin's exporter (research/torch_export.py) before the first step.
An L-BFGS step evaluates the objective a varying number of times (1 + its
line search's), so for it the report also counts evaluations per step and
gives seconds per evaluation, the figure that compares across
implementations whose line searches take different paths.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from typing import Any, Callable

import jax
import numpy as np
import optax

from research import errors, hostmem, optim, parallel, profile, train
from research import step as step_lib
from research.tasks import TASKS, FittedTask


# Dense bf16 peak FLOP/s per chip (vendor datasheets), for model-FLOPs
# utilisation: the step's FLOPs (XLA's cost analysis of the lowered step,
# forward, backward and update) per second over this peak.
BF16_PEAK_FLOPS = {
    'H100': 989.4e12,   # NVIDIA H100 SXM datasheet (dense; 1,979 with sparsity)
    'H200': 989.4e12,   # NVIDIA H200 datasheet: the H100's tensor cores
    'A100': 312e12,     # NVIDIA A100 datasheet
    'TPU v4': 275e12,   # Google Cloud TPU v4 documentation
    'TPU v5 lite': 197e12,
    'TPU v5p': 459e12,
    'TPU v6 lite': 918e12,
}


def peak_flops(device_kind: str) -> float | None:
  """The chip's dense bf16 peak where BF16_PEAK_FLOPS knows it (CPUs: None)."""
  for name, flops in BF16_PEAK_FLOPS.items():
    if name in device_kind:
      return flops
  return None


def step_flops(lowered) -> float | None:
  """FLOPs of one call of a step, by XLA's cost analysis of the lowered
  (not yet compiled) program: the same count on every backend. The compiled
  program's own analysis leaves out what a backend hands to a library (on
  GPUs, cuDNN's convolutions: 0.64 of ResNet-20's 21.7 GFLOP per batch of
  128 on an H200)."""
  try:
    analysis = lowered.cost_analysis()
  except Exception:  # noqa: BLE001 (not every backend implements it)
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  flops = (analysis or {}).get('flops')
  return float(flops) if flops and flops > 0 else None


def make_feeder(task, config, mesh, synthetic: tuple[int, ...] | None, num_classes: int):
  """The config's own data, or random data of the task's kind: `synthetic`
  is an image shape (H, W, C) for classification, (length, vocab size) for
  text classification, (vocab size,) for language models."""
  if synthetic is None:
    return task.make_feeder(config, mesh)
  if task.synthetic_feeder is None:
    raise errors.ConfigError(f'No synthetic data for task {config.task!r}.')
  return task.synthetic_feeder(config, mesh, synthetic, num_classes)


@dataclasses.dataclass(frozen=True)
class StartingPoint:
  """The timed run before its first step: a twin of the step in another
  framework (research/torch_export.py) copies its parameters, data, batch
  order and learning rates from here. `num_steps` steps run, the warmup
  included; step s reads `feeder.train_args(s)` and its learning rate is
  `schedule(s)`."""
  task: Any
  model: Any
  feeder: Any
  constants: Any
  state: Any
  tx: Any
  schedule: Any
  mesh: Any
  step_rng: Any
  num_steps: int


def starting_point(config, *, num_steps: int, synthetic_shape: tuple[int, ...] | None = None,
                   num_classes: int = 10) -> StartingPoint:
  """The config's data, model, optimizer and initial state for a run of
  `num_steps` steps (the learning-rate schedule spans one more)."""
  train.check_config(config)
  hostmem.use_heap_for_large_buffers()
  task = TASKS[config.task]
  if isinstance(task, FittedTask):
    raise errors.ConfigError(f'Task {config.task!r} has no training step to time.')
  mesh = parallel.make_mesh()
  feeder = make_feeder(task, config, mesh, synthetic_shape, num_classes)
  constants = task.load_constants(config, feeder, mesh)
  model = train.build_model(config, task, feeder)
  tx, schedule = optim.make_optimizer(config, num_steps + 1)
  init_rng, step_rng = step_lib.run_keys(config.seed, mesh)
  try:
    state = train.create_train_state(task, model, tx, feeder, init_rng, mesh)
  except ValueError as e:  # The model's own shape check (e.g. LeNet-5's 32x32 input).
    if synthetic_shape is None:
      raise
    raise errors.ConfigError(
        f'{e} --synthetic={",".join(map(str, synthetic_shape))} is the model\'s input as it '
        'is (the config\'s padding and resizing are not applied): give that shape.') from e
  return StartingPoint(task=task, model=model, feeder=feeder, constants=constants, state=state,
                       tx=tx, schedule=schedule, mesh=mesh, step_rng=step_rng,
                       num_steps=num_steps)


def benchmark(config, *, steps: int, warmup: int, repeats: int = 3,
              synthetic_shape: tuple[int, ...] | None = None,
              num_classes: int = 10,
              at_start: Callable[[StartingPoint], None] | None = None,
              profile_steps: int = 0) -> dict[str, Any]:
  """Compile time and steady-state speed of the config's training step; an
  example is one image, or one sequence of `seq_len` tokens. `at_start` sees
  the starting point before anything is compiled or run (the first step
  donates the state). With `profile_steps`, that many more steps run under
  the profiler; the report's `op_profile` is their time per XLA operation
  (research/profile.py) and `profile_trace_dir` the TensorBoard trace."""
  start = starting_point(config, num_steps=warmup + repeats * steps + profile_steps,
                         synthetic_shape=synthetic_shape, num_classes=num_classes)
  if at_start is not None:
    at_start(start)
  feeder, constants, step_rng = start.feeder, start.constants, start.step_rng
  state = start.state
  train_fn, _ = train.compile_steps(start.task, start.model, config, start.tx, start.schedule,
                                    feeder, state, constants, start.mesh)

  t0 = time.perf_counter()
  lowered = train_fn.lower(state, step_rng, constants, *feeder.train_args(0))
  compiled = lowered.compile()
  compile_seconds = time.perf_counter() - t0

  step = 0
  first_losses = []  # the objective before the first and the second update
  lbfgs = config.optimizer.name == 'lbfgs'
  evaluations = 0

  def run(n):
    nonlocal state, step, evaluations
    metrics = None
    for _ in range(n):
      state, metrics = compiled(state, step_rng, constants, *feeder.train_args(step))
      if len(first_losses) < 2:
        first_losses.append(metrics['loss'])
      if lbfgs:  # Read now: the next step donates the state that holds it.
        evaluations += 1 + linesearch_evaluations(state.opt_state)
      step += 1
    jax.block_until_ready((state, metrics))

  run(warmup)
  rates, seconds, per_step = [], [], []
  for _ in range(repeats):
    evaluations0, t0 = evaluations, time.perf_counter()
    run(steps)
    elapsed = time.perf_counter() - t0
    rates.append(steps * config.batch_size / elapsed)
    seconds.append(elapsed / steps)
    per_step.append((evaluations - evaluations0) / steps)
  best = int(np.argmin(seconds))
  report = {
      'config_model': config.model.name,
      'devices': f'{jax.device_count()} x {jax.devices()[0].device_kind}',
      'batch_size': config.batch_size,
      'params': train.num_params(state.params),
      'compile_seconds': round(compile_seconds, 3),
      'steps_per_second': round(max(rates) / config.batch_size, 2),
      'seconds_per_step': round(seconds[best], 6),
      'examples_per_second_each_repeat': [round(r, 1) for r in rates],
      'peak_host_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
  }
  flops = step_flops(lowered)
  if flops is not None:
    report['flops_per_step'] = flops
    report['tflops_per_second'] = round(flops / seconds[best] / 1e12, 3)
    peak = peak_flops(jax.devices()[0].device_kind)
    if peak is not None:  # summed over the devices the step ran on
      report['mfu_of_bf16_peak'] = round(flops / seconds[best] / (peak * jax.device_count()), 4)
  stats = jax.devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:
    report['peak_device_memory_mb'] = round(stats['peak_bytes_in_use'] / 2**20, 1)
  if config.task == 'language_model':
    report['tokens_per_second'] = round(max(rates) * config.seq_len, 1)
  if lbfgs:
    report['evaluations_per_step_each_repeat'] = [round(e, 2) for e in per_step]
    report['seconds_per_evaluation'] = round(seconds[best] / per_step[best], 6)
  for key, loss in zip(('loss_at_start', 'loss_after_first_step'), first_losses):
    report[key] = float(loss)
  if profile_steps:
    trace_dir = profile.trace_steps(lambda: run(profile_steps))
    report['profile_trace_dir'] = trace_dir
    report['op_profile'] = profile.op_times(trace_dir, profile_steps,
                                            profile.hlo_sources(compiled.as_text()))
  report['examples_per_second'] = float(max(rates))
  return report


def linesearch_evaluations(opt_state) -> int:
  """Objective evaluations of an L-BFGS step's zoom line search (each one a
  value and gradient), from the optimizer state after the step."""
  return int(optax.tree_utils.tree_get(opt_state, 'num_linesearch_steps'))
