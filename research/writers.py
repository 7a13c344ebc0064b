"""Run outputs: JSON-lines metrics, TensorBoard events, progress lines.

Only process 0 writes; other processes get a writer that drops everything, so
the same code runs on one host and on a pod.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import jax
import numpy as np

METRICS_FILE = 'metrics.jsonl'


def _jsonable(v: Any) -> Any:
  v = float(v) if hasattr(v, 'dtype') or isinstance(v, (int, float)) else v
  if isinstance(v, float) and not math.isfinite(v):
    return str(v)  # JSON has no NaN/Inf; keep them readable.
  return v


class MetricWriter:
  """Appends `{"step": s, **scalars}` lines to metrics.jsonl and TensorBoard."""

  def __init__(self, workdir: str, *, tensorboard: bool = True):
    self._enabled = jax.process_index() == 0
    self._jsonl = None
    self._tb = None
    if not self._enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, METRICS_FILE), 'a', encoding='utf-8')
    if tensorboard:
      from flax.metrics import tensorboard as flax_tb  # Imports TensorFlow.
      self._tb = flax_tb.SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, scalars: dict[str, Any]) -> None:
    if not self._enabled:
      return
    record = {'step': int(step), **{k: _jsonable(v) for k, v in scalars.items()}}
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.scalar(k, float(v), int(step))

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.flush()
      self._tb.close()


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """All metric records in step order. A resumed run rewrites the steps after
  its checkpoint; for each (step, metric names) the last record wins."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  latest: dict[tuple, dict[str, Any]] = {}
  with open(path, encoding='utf-8') as f:
    for line in f:
      if line.strip():
        rec = json.loads(line)
        latest[(rec['step'], tuple(sorted(rec)))] = rec
  return sorted(latest.values(), key=lambda r: r['step'])


class Progress:
  """Steps/s over the last interval and an ETA for the remaining steps."""

  def __init__(self, total_steps: int, start_step: int):
    self.total_steps = total_steps
    self._last_step, self._last_time = start_step, time.perf_counter()

  def pause(self, seconds: float) -> None:
    """Leaves `seconds` spent on something else (evaluation) out of the rate."""
    self._last_time += seconds

  def update(self, step: int) -> dict[str, float]:
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self.total_steps - step) / rate if rate > 0 else float('inf')
    return {'steps_per_second': rate, 'eta_seconds': eta}


def format_progress(step: int, total: int, scalars: dict[str, Any]) -> str:
  """One progress line; values with a seed axis are shown as their mean."""
  scalars = {k: float(np.mean(v)) for k, v in scalars.items()}
  eta = scalars.get('eta_seconds', float('nan'))
  eta_str = time.strftime('%H:%M:%S', time.gmtime(eta)) if math.isfinite(eta) else '?'
  parts = [f'step {step}/{total}']
  for key in ('loss', 'accuracy', 'learning_rate'):
    if key in scalars:
      parts.append(f'{key} {scalars[key]:.4g}')
  parts.append(f'{scalars.get("steps_per_second", 0.0):.1f} steps/s')
  parts.append(f'ETA {eta_str}')
  return ' | '.join(parts)


def _number(x: float) -> str:
  """Counts as integers ('360'), everything else to 4 decimals."""
  return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f'{x:.4f}'


def format_scalars(scalars: dict[str, Any]) -> str:
  """'key value, ...'; a value with a seed axis reads 'mean (min-max, S seeds)'."""
  parts = []
  for k, v in scalars.items():
    v = np.asarray(v, np.float64)
    if v.ndim == 0:
      parts.append(f'{k} {_number(float(v))}')
    else:
      parts.append(f'{k} {_number(v.mean())} ({_number(v.min())}-{_number(v.max())}, '
                   f'{v.size} seeds)')
  return ', '.join(parts)


def log(msg: str) -> None:
  if jax.process_index() == 0:
    print(msg, flush=True)
