"""Run outputs: JSON-lines metrics, TensorBoard events, progress lines.

Only process 0 writes; other processes get a writer that drops everything, so
the same code runs on one host and on a pod. Both files go through
research/fileio.py, so a workdir in a bucket works like a local one; the
TensorBoard event records are written by the `tensorboard` package's own
record format, without TensorFlow.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import time
from typing import Any

import jax
import numpy as np

from research import fileio

METRICS_FILE = 'metrics.jsonl'
TENSORBOARD_DIR = 'tensorboard'


def _jsonable(v: Any) -> Any:
  v = float(v) if hasattr(v, 'dtype') or isinstance(v, (int, float)) else v
  if isinstance(v, float) and not math.isfinite(v):
    return str(v)  # JSON has no NaN/Inf; keep them readable.
  return v


class TensorBoardEvents:
  """Scalars in a TensorBoard event file (`events.out.tfevents.*`, one per
  start or resume): TFRecord-framed `Event` protos, as TensorFlow writes them."""

  def __init__(self, directory: str):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer import record_writer

    self._event_pb2 = event_pb2
    name = f'events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.{os.getpid()}'
    self._file = fileio.AppendFile(fileio.join(directory, name))
    self._records = record_writer.RecordWriter(self._file)
    self._write(self._event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2'))

  def _write(self, event) -> None:
    self._records.write(event.SerializeToString())

  def scalars(self, step: int, scalars: dict[str, float]) -> None:
    from tensorboard.compat.proto import summary_pb2

    summary = summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag=k, simple_value=float(v)) for k, v in scalars.items()])
    self._write(self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

  def flush(self, *, force: bool = False) -> None:
    self._file.flush(force=force)

  def close(self) -> None:
    self._file.close()


class MetricWriter:
  """Appends `{"step": s, **scalars}` lines to metrics.jsonl and TensorBoard.

  `flush(force=True)` (at every checkpoint and at the end) makes everything
  written so far durable, in a bucket too (research/fileio.AppendFile)."""

  def __init__(self, workdir: str, *, tensorboard: bool = True):
    self._enabled = jax.process_index() == 0
    self._jsonl = None
    self._tb = None
    if not self._enabled:
      return
    fileio.makedirs(workdir)
    self._jsonl = fileio.AppendFile(fileio.join(workdir, METRICS_FILE))
    if tensorboard:
      self._tb = TensorBoardEvents(fileio.join(workdir, TENSORBOARD_DIR))

  def write(self, step: int, scalars: dict[str, Any]) -> None:
    if not self._enabled:
      return
    record = {'step': int(step), **{k: _jsonable(v) for k, v in scalars.items()}}
    self._jsonl.write((json.dumps(record) + '\n').encode('utf-8'))
    if self._tb is not None:
      self._tb.scalars(step, {k: float(v) for k, v in scalars.items()})
    self.flush()

  def flush(self, *, force: bool = False) -> None:
    for f in (self._jsonl, self._tb):
      if f is not None:
        f.flush(force=force)

  def close(self) -> None:
    for f in (self._jsonl, self._tb):
      if f is not None:
        f.close()


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """All metric records in step order. A resumed run rewrites the steps after
  its checkpoint; for each (step, metric names) the last record wins."""
  path = fileio.join(workdir, METRICS_FILE)
  if not fileio.exists(path):
    return []
  latest: dict[tuple, dict[str, Any]] = {}
  text = fileio.read_text(path)
  lines = text.split('\n')
  if not text.endswith('\n'):
    lines = lines[:-1]  # Cut short by a kill mid-write (the resumed run rewrites it).
  for line in lines:
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


_IMPORTED_AT = time.time()


@functools.cache
def process_start_time() -> float:
  """When this process started (Unix time): from /proc on Linux, so the
  interpreter's start and every import count; elsewhere, when this module
  was imported."""
  try:
    # Field 22, after the parenthesised command name (which may hold spaces).
    start_ticks = int(fileio.read_bytes('/proc/self/stat').rsplit(b')', 1)[1].split()[19])
    uptime = float(fileio.read_bytes('/proc/uptime').split()[0])
    return time.time() - uptime + start_ticks / os.sysconf('SC_CLK_TCK')
  except (OSError, ValueError, IndexError):
    return _IMPORTED_AT


def process_seconds() -> float:
  """Wall seconds since this process started (compilation and data loading
  included): the clock of time-to-accuracy figures."""
  return time.time() - process_start_time()


def log(msg: str) -> None:
  if jax.process_index() == 0:
    print(msg, flush=True)
