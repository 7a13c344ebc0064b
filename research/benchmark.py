"""Measures a config's compiled training step (used by `launch.benchmark`)."""

from __future__ import annotations

import resource
import time
from typing import Any

import jax

from research import optim, parallel, train
from research.data import pipeline


def benchmark(config, *, steps: int, warmup: int, repeats: int = 3,
              synthetic_shape: tuple[int, ...] | None = None,
              num_classes: int = 10) -> dict[str, Any]:
  train.check_config(config)
  mesh = parallel.make_mesh()
  data = None
  if synthetic_shape is not None:
    data = pipeline.synthetic(config, synthetic_shape, num_classes)
  feeder = pipeline.InMemoryFeeder(config, mesh, data=data)
  model = train.build_model(config, feeder)
  total = warmup + repeats * steps + 1
  tx, schedule = optim.make_optimizer(config, total)
  init_rng, step_rng = jax.random.split(jax.random.key(config.seed))
  state = train.create_train_state(config, model, tx, feeder, init_rng, mesh)
  train_fn = train.make_train_fn(config, model, tx, schedule, step_rng, feeder)

  t0 = time.perf_counter()
  compiled = train_fn.lower(state, *feeder.train_args(0)).compile()
  compile_seconds = time.perf_counter() - t0

  step = 0

  def run(n):
    nonlocal state, step
    metrics = None
    for _ in range(n):
      state, metrics = compiled(state, *feeder.train_args(step))
      step += 1
    jax.block_until_ready((state, metrics))

  run(warmup)
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    run(steps)
    rates.append(steps * config.batch_size / (time.perf_counter() - t0))
  report = {
      'config_model': config.model.name,
      'devices': f'{jax.device_count()} x {jax.devices()[0].device_kind}',
      'batch_size': config.batch_size,
      'params': train.num_params(state.params),
      'compile_seconds': round(compile_seconds, 3),
      'steps_per_second': round(max(rates) / config.batch_size, 2),
      'examples_per_second_each_repeat': [round(r, 1) for r in rates],
      'peak_host_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
  }
  stats = jax.devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:
    report['peak_device_memory_mb'] = round(stats['peak_bytes_in_use'] / 2**20, 1)
  report['examples_per_second'] = float(max(rates))
  return report
