"""What produced a run, so a table row can be traced back to it: library
versions, the devices and processes, and the code's git commit (with a
flag for uncommitted changes). Recorded in every workdir's provenance.json
(one record per start or resume) and in results.json."""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
from typing import Any

import jax

from research.kernels import onednn

# Distributions whose versions change numbers or behaviour.
LIBRARIES = ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'tensorflow-datasets',
             'tensorflow', 'tensorflow-cpu', 'numpy', 'ml-collections')

# The checkout holding the `research` package (None for an installed copy).
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def library_versions() -> dict[str, str]:
  versions = {}
  for name in LIBRARIES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      pass  # e.g. only one of tensorflow / tensorflow-cpu is installed
  return versions


# Paths of the checkout whose changes do not count as uncommitted code.
_NOT_CODE = ('docs', '*.md')


def git_state(root: str = _CODE_ROOT) -> dict[str, Any]:
  """{'git_commit': sha or None, 'git_dirty': bool or None}: None where the
  code is not a git checkout (a pip-installed copy) or git is missing. Dirty:
  a tracked file other than documentation (`_NOT_CODE`) differs from HEAD."""
  unknown = {'git_commit': None, 'git_dirty': None}
  if not os.path.exists(os.path.join(root, '.git')):
    return unknown

  def git(*args):
    return subprocess.run(['git', '-C', root, *args], capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()

  try:
    commit = git('rev-parse', 'HEAD')
    # Only what can change a number: `--publish` writes docs/results/NAME.json
    # (and pictures under docs/), so a second table run after a first one's
    # publication is not marked as made by uncommitted code.
    dirty = bool(git('status', '--porcelain', '--untracked-files=no', '--', '.',
                     *(f':(exclude){p}' for p in _NOT_CODE)))
  except (OSError, subprocess.SubprocessError):
    return unknown
  return {'git_commit': commit, 'git_dirty': dirty}


# Instruction sets XLA:CPU compiles for where the host has them: another set
# vectorises (and so sums) differently, which moves float32 results.
_CPU_FEATURES = ('sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16',
                 'avx512_fp16', 'amx_tile', 'amx_bf16', 'asimd', 'sve', 'sve2')


def host_cpu(cpuinfo: str = '/proc/cpuinfo') -> dict[str, Any]:
  """The host CPU's model and the instruction sets of `_CPU_FEATURES` it has:
  two hosts with the same libraries can still differ in the last digits
  (e.g. an MLP's test accuracy after 20 epochs) when these differ."""
  model, flags = None, set()
  try:
    with open(cpuinfo) as f:
      for line in f:  # The first processor's lines; every core is the same model.
        key, _, value = line.partition(':')
        key = key.strip().lower()
        if key in ('model name', 'cpu model') and model is None:
          model = value.strip()
        elif key in ('flags', 'features') and not flags:
          flags = set(value.split())
  except OSError:
    pass
  return {'model': model or platform.processor() or None, 'logical_cpus': os.cpu_count(),
          'features': [f for f in _CPU_FEATURES if f in flags]}


def threads() -> dict[str, Any]:
  """The CPUs this process may use (affinity, cgroup quota) and the threads a
  oneDNN call splits its batch over: the same code on the same host can end
  in other last digits with another count (a reduction split in other parts),
  as `launch.reproduce --workers` runs, one core each, do against a whole-host
  run."""
  try:
    team = onednn.team_size()
  except ValueError:  # a malformed $OMP_NUM_THREADS; the kernels refuse it when used
    team = None
  return {'cpus': onednn.cpu_budget(), 'onednn_team': team,
          'omp_num_threads': os.environ.get('OMP_NUM_THREADS')}


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
  devices = jax.devices()
  return {
      'libraries': library_versions(),
      'python': platform.python_version(),
      'platform': platform.platform(),
      'host_cpu': host_cpu(),
      'threads': threads(),
      'device_kind': devices[0].device_kind,
      'device_platform': devices[0].platform,
      'num_devices': jax.device_count(),
      'num_processes': jax.process_count(),
      **git_state(),
  }


def collect() -> dict[str, Any]:
  """This process's provenance record (versions, devices, code), timestamped."""
  return {**_static(),
          'time_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}


def summary(record: dict[str, Any]) -> str:
  """One short line: 'code 1a2b3c4 (uncommitted changes), jax 0.10.2, 1 x cpu'."""
  commit = record.get('git_commit')
  code = ('code: not a git checkout' if commit is None else
          f'code {commit[:7]}' + (' (uncommitted changes)' if record.get('git_dirty') else ''))
  jax_version = record.get('libraries', {}).get('jax', '?')
  return (f'{code}, jax {jax_version}, {record.get("num_devices")} x '
          f'{record.get("device_kind")}, {record.get("num_processes")} process(es)')
