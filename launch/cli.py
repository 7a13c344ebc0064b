"""Shared command-line plumbing for the launchers (no flags defined here)."""

import os
import re
import sys

from absl import flags


def parse_flags(argv):
  """absl flag parsing with one-line errors for bad configs and overrides.
  Also sets glibc's malloc for XLA:CPU's per-step buffers (research/hostmem.py),
  before anything is allocated."""
  from research import errors, hostmem
  hostmem.use_heap_for_large_buffers()
  try:
    return flags.FLAGS(argv)
  except errors.UserError as e:  # From get_config(arg), e.g. an unknown ARG.
    message = str(e)
  except SyntaxError as e:  # The config file is not valid Python.
    where = f'{e.filename}, line {e.lineno}' if e.lineno else e.filename
    message = (f'config file {where}: {e.msg}'
               + (f': {e.text.strip()}' if e.text and e.text.strip() else '')
               + ' (fix the file; it must be valid Python).')
  except flags.Error as e:  # Wrong type or unparsable --config.KEY=VALUE.
    message = str(e)
  except (AttributeError, KeyError) as e:  # --config.KEY that the config lacks.
    # ml_collections' message arrives quoted and escaped (a KeyError's str()
    # of a repr): take the key's name out of it, and name the whole override.
    text = str(e.args[0]) if e.args else str(e)
    found = (re.search(r'"([^"]+)" does not exist', text)
             or re.search(r'([A-Za-z_]\w*)', text))
    key = found.group(1) if found else text
    key = next((a[len('--config.'):].split('=')[0] for a in argv
                if a.startswith('--config.') and key in a.split('=')[0].split('.')), key)
    hint = re.search(r'Did you mean \\*"([^"\\]+)', text)
    message = (f'--config.{key} names a key the config does not declare (configs are '
               'locked; check the spelling against the file)'
               + (f'; did you mean {hint.group(1)!r}?' if hint else '.'))
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def maybe_initialize_distributed(enabled: bool, coordinator_address: str | None,
                                 num_processes: int | None, process_id: int | None) -> None:
  """Joins the JAX distributed runtime when asked (flags) or configured (env).

  Must run before any JAX computation. Missing values come from
  JAX_NUM_PROCESSES / JAX_PROCESS_ID (JAX itself reads JAX_COORDINATOR_ADDRESS),
  and on TPU VMs, Slurm and Open MPI from JAX's cluster auto-detection.
  """
  env = os.environ
  if num_processes is None and env.get('JAX_NUM_PROCESSES'):
    num_processes = int(env['JAX_NUM_PROCESSES'])
  if process_id is None and env.get('JAX_PROCESS_ID'):
    process_id = int(env['JAX_PROCESS_ID'])
  if not (enabled or coordinator_address or num_processes is not None
          or process_id is not None):
    return
  import jax
  # CPU hosts exchange collectives over TCP with gloo (no effect on TPU/GPU
  # collectives); without it a multi-process CPU run cannot all-reduce.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address, num_processes, process_id)
  print(f'process {jax.process_index()} of {jax.process_count()}: '
        f'{jax.local_device_count()} local / {jax.device_count()} global '
        f'{jax.devices()[0].platform} devices', flush=True)


def config_overrides(config, path: str, arg: str | None) -> dict:
  """The `--config.KEY=VALUE` flags applied to `config`: its dotted keys whose
  values differ from a fresh `get_config(arg)` of the same file."""
  from research import config_lib

  def flat(d, prefix=''):
    out = {}
    for k, v in d.items():
      out.update(flat(v, f'{prefix}{k}.') if hasattr(v, 'items') else {f'{prefix}{k}': v})
    return out

  fresh, given = flat(config_lib.load(path, arg)), flat(config)
  return {k: v for k, v in given.items() if fresh.get(k) != v}
