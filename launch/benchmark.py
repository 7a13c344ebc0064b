r"""Training-step speed of any config: compile time, steady-state examples/s, memory.

  python -m launch.benchmark --config=configs/NAME.py[:ARG] [--config.KEY=VALUE ...] \
      [--steps=200] [--warmup=20] [--synthetic=28,28,1 | --synthetic=65]

Times the same compiled step `launch.train` runs (data on device, batched by
index), on the config's real data or, with --synthetic, on random data (no
TensorFlow needed): images of shape H,W,C for classification configs, token
streams over a vocabulary of V ids (--synthetic=V) for language models. An
example is one image, or one sequence of `seq_len` tokens. The last line is machine-readable:
`examples_per_second=<float>`.
"""

import sys

from absl import app, flags
from ml_collections import config_flags

from launch import cli

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config: configs/NAME.py[:ARG].', lock_config=True)
_STEPS = flags.DEFINE_integer('steps', 200, 'Timed training steps.')
_WARMUP = flags.DEFINE_integer('warmup', 20, 'Untimed steps after compilation.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed repetitions; the best is reported.')
_SYNTHETIC = flags.DEFINE_string(
    'synthetic', None,
    'Random data instead of the dataset: H,W,C images, or V (vocabulary size) for LMs.')
_NUM_CLASSES = flags.DEFINE_integer('num_classes', 10, 'Classes for --synthetic.')
flags.mark_flags_as_required(['config'])


def main(argv):
  del argv
  from research import benchmark, errors
  try:
    shape = None
    if _SYNTHETIC.value:
      shape = tuple(int(d) for d in _SYNTHETIC.value.split(','))
    report = benchmark.benchmark(
        _CONFIG.value, steps=_STEPS.value, warmup=_WARMUP.value, repeats=_REPEATS.value,
        synthetic_shape=shape, num_classes=_NUM_CLASSES.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  for key, value in report.items():
    if key != 'examples_per_second':
      print(f'{key}: {value}')
  print(f'examples_per_second={report["examples_per_second"]:.1f}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
