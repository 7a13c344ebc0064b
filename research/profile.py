"""Where a compiled step's time goes: a `jax.profiler` trace of a few steps,
summed per XLA operation (`python -m launch.benchmark --profile_steps=N`).

The trace is TensorBoard's profile (`DIR/plugins/profile/...`, readable with
the TensorBoard profile plugin or Perfetto); this module also reads its
Perfetto copy and lists the operations by total time. On CPU each XLA thunk
(a fusion, a dot, a convolution, a YNNPACK fusion) is one event; on GPU the
kernels' events come from CUPTI. Host-side events (Python frames, the
executor's wait) are left out of the ranking, which is about device work.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import gzip
import json
import os
import re
import tempfile
from typing import Callable

import jax

# Events that wrap others or are host bookkeeping, not operations of the step.
_WRAPPERS = ('ThunkExecutor::Execute', 'SlinkyThreadPool', 'PjitFunction', '$')


@dataclasses.dataclass(frozen=True)
class OpTime:
  name: str
  ms_per_step: float
  calls_per_step: float
  source: str = ''  # the JAX operation it came from (HLO metadata), where known


_INSTRUCTION = re.compile(r'^\s*(ROOT )?%?([\w.\-]+) = ')
_OP_NAME = re.compile(r'metadata=\{[^}]*op_name="([^"]*)"')
_CALLS = re.compile(r'calls=%?([\w.\-]+)')
_COMPUTATION = re.compile(r'^%?([\w.\-]+) \(.*\{\s*$')


def hlo_sources(hlo_text: str) -> dict[str, str]:
  """Instruction name -> the JAX op_name recorded in its metadata (which
  module and primitive it came from), from a compiled step's `as_text()`. A
  fusion without metadata of its own takes its fused computation's (its
  root's, else the first inside that has one)."""
  own: dict[str, str] = {}
  calls: dict[str, str] = {}
  computation_source: dict[str, str] = {}
  computation = None
  for line in hlo_text.splitlines():
    header = _COMPUTATION.match(line)
    if header and ' = ' not in line:
      computation = header.group(1)
      continue
    m = _INSTRUCTION.match(line)
    if not m:
      continue
    name, op_name, called = m.group(2), _OP_NAME.search(line), _CALLS.search(line)
    if op_name:
      own.setdefault(name, op_name.group(1))
      if computation is not None and (m.group(1) or computation not in computation_source):
        computation_source[computation] = op_name.group(1)
    if called:
      calls[name] = called.group(1)
  sources = dict(own)
  for name, called in calls.items():
    if name not in sources and called in computation_source:
      sources[name] = computation_source[called]
  return sources


def trace_steps(run_steps: Callable[[], None], trace_dir: str | None = None) -> str:
  """Runs `run_steps()` (which must block until its steps are done) under the
  profiler; returns the trace directory."""
  trace_dir = trace_dir or tempfile.mkdtemp(prefix='step_profile_')
  with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
    run_steps()
  return trace_dir


def op_times(trace_dir: str, steps: int, sources: dict[str, str] | None = None
             ) -> list[OpTime]:
  """Operations of the trace in `trace_dir` by total time, per step; `sources`
  (hlo_sources) names where each came from."""
  files = glob.glob(os.path.join(trace_dir, '**', 'perfetto_trace.json.gz'), recursive=True)
  if not files:
    raise FileNotFoundError(f'No perfetto_trace.json.gz under {trace_dir}.')
  with gzip.open(max(files, key=os.path.getmtime)) as f:
    trace = json.load(f)
  events = trace['traceEvents'] if isinstance(trace, dict) else trace
  total: collections.Counter = collections.Counter()
  calls: collections.Counter = collections.Counter()
  for e in events:
    name = e.get('name', '')
    if e.get('ph') != 'X' or 'dur' not in e or name.startswith(_WRAPPERS):
      continue
    total[name] += e['dur']
    calls[name] += 1
  sources = sources or {}
  return [OpTime(name, us / steps / 1e3, calls[name] / steps, sources.get(name, ''))
          for name, us in total.most_common()]


def _short(op_name: str, keep: int = 4) -> str:
  """The last parts of a JAX op_name ('jit(f)/jvp(LeNet5)/C1/conv...')."""
  parts = [p for p in op_name.split('/') if p]
  return '/'.join(parts[-keep:])


def format_op_times(ops: list[OpTime], seconds_per_step: float, top: int = 20) -> str:
  lines = [f'{"ms/step":>8}  {"share":>6}  {"calls":>5}  operation']
  for op in ops[:top]:
    share = op.ms_per_step / (seconds_per_step * 1e3)
    source = f'  <- {_short(op.source)}' if op.source else ''
    lines.append(f'{op.ms_per_step:8.2f}  {share:6.1%}  {op.calls_per_step:5.1f}  {op.name}{source}')
  rest = sum(op.ms_per_step for op in ops[top:])
  lines.append(f'{rest:8.2f}  {rest / (seconds_per_step * 1e3):6.1%}         '
               f'({max(len(ops) - top, 0)} more operations)')
  return '\n'.join(lines)
