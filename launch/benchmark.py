r"""Training-step speed of any config: compile time, steady-state examples/s, memory.

  python -m launch.benchmark --config=configs/NAME.py[:ARG] [--config.KEY=VALUE ...] \
      [--steps=200] [--warmup=20] [--synthetic=28,28,1 | --synthetic=64,15000 | --synthetic=65]

Times the same compiled step `launch.train` runs (data on device, batched by
index), on the config's real data or, with --synthetic, on random data (no
TensorFlow needed): images of shape H,W,C for classification configs, rows of
LENGTH word ids over a vocabulary of V (--synthetic=LENGTH,V) for text classifiers,
token streams over a vocabulary of V ids (--synthetic=V) for language models
(--num_classes: the classes of random labels). An example is one image or text, or
one sequence of `seq_len` tokens. The last line is machine-readable:
`examples_per_second=<float>`. `seconds_per_step` (best repeat) is the figure for style
transfer, where a step is one iteration on one image; an L-BFGS step also reports its
objective evaluations (1 + its line search's) and seconds per evaluation.

`--against=torch` then runs the config's PyTorch twin (launch/benchmark_torch.py) in a
subprocess of `--torch_python`, on the same cores, the same numbers of steps, and prints
both figures, their ratio `speed_jax_over_torch` (> 1: JAX faster) and both objectives at
the start, which must agree (research/torch_twin.py). Twins: the MLP, LeNet-5, the small
CNN, CIFAR ResNets, TextCNN (task classification), the LSTM language model, and Gatys
style transfer. A model twin gets the same starting parameters, data (with --synthetic,
the same random data), batches and learning rates; both sides first compute the
objective on the first batch with dropout and augmentation off (within 1e-4; a bfloat16
model also within 1e-2 in its dtype), then the ratio is of examples per second:

  python -m launch.benchmark --config=configs/fashion_mnist_resnet.py --synthetic=28,28,1 \
      --steps=20 --warmup=3 --against=torch --torch_python=/path/to/torchenv/bin/python
  python -m launch.benchmark --config=configs/gatys_style.py:size=256,optimizer=adam \
      --steps=10 --warmup=3 --against=torch --torch_python=/path/to/torchenv/bin/python

`--profile_steps=N` then traces N more steps (jax.profiler; the trace stays in a
temporary folder for TensorBoard or Perfetto) and prints their time per XLA
operation, each named by the JAX operation it came from (research/profile.py):

  python -m launch.benchmark --config=configs/fashion_mnist_cnn.py --synthetic=28,28,1 \
      --steps=20 --profile_steps=10
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
    'Random data instead of the dataset: H,W,C images, LENGTH,V word ids for text '
    'classifiers, or V (vocabulary size) for LMs.')
_PROFILE_STEPS = flags.DEFINE_integer(
    'profile_steps', 0, 'Then trace this many more steps (jax.profiler) and print where '
    'their time goes, per XLA operation, named by the JAX operation it came from.',
    lower_bound=0)
_NUM_CLASSES = flags.DEFINE_integer('num_classes', 10, 'Classes for --synthetic.')
_AGAINST = flags.DEFINE_enum('against', None, ['torch'],
                             "Also time the config's PyTorch twin and compare.")
_TORCH_PYTHON = flags.DEFINE_string('torch_python', sys.executable,
                                    'A Python with torch, for --against=torch.')
flags.mark_flags_as_required(['config'])


def main(argv):
  del argv
  from research import benchmark, errors, torch_twin
  comparison = None
  try:
    shape = None
    if _SYNTHETIC.value:
      shape = tuple(int(d) for d in _SYNTHETIC.value.split(','))
    if _AGAINST.value == 'torch':
      if _PROFILE_STEPS.value:
        raise errors.ConfigError('--profile_steps profiles the JAX step alone: drop '
                                 '--against=torch.')
      report, twin, comparison = torch_twin.against_torch(
          _CONFIG.value, torch_python=_TORCH_PYTHON.value, steps=_STEPS.value,
          warmup=_WARMUP.value, repeats=_REPEATS.value, synthetic_shape=shape,
          num_classes=_NUM_CLASSES.value)
    else:
      report = benchmark.benchmark(
          _CONFIG.value, steps=_STEPS.value, warmup=_WARMUP.value, repeats=_REPEATS.value,
          synthetic_shape=shape, num_classes=_NUM_CLASSES.value,
          profile_steps=_PROFILE_STEPS.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  ops = report.pop('op_profile', None)
  for key, value in report.items():
    if key != 'examples_per_second':
      print(f'{key}: {value}')
  if ops is not None:
    from research import profile
    print(f'where {_PROFILE_STEPS.value} traced steps spent their time '
          f'(share of the best repeat\'s {report["seconds_per_step"] * 1e3:.1f} ms/step):')
    print(profile.format_op_times(ops, report['seconds_per_step']))
  if comparison is not None:
    for key, value in twin.items():
      if f'torch_{key}' not in comparison:
        print(f'torch_{key}: {value}')
    for key, value in comparison.items():
      print(f'{key}: {value}')
  print(f'examples_per_second={report["examples_per_second"]:.1f}')
  if comparison is not None and not comparison['losses_agree']:
    print(f'error: the objectives at the start differ '
          f'({"; ".join(torch_twin.disagreements(comparison))}): the twin does not compute the '
          'same step, so the ratio above compares different work.', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
