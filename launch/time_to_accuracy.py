r"""Time-to-accuracy of a config: seconds from process start to a target, per seed.

  python -m launch.time_to_accuracy --config=configs/fashion_mnist_resnet.py \
      --metric=test_accuracy --target=0.94 --seeds=5 --root=runs/tta_fmnist \
      -- --config.num_epochs=30 --config.eval_every_steps=468

Each seed trains in a fresh `python -m launch.train` process, one after another,
until its first periodic evaluation reaches the target (arguments after `--`
go to every seed's launch.train). Prints each seed's seconds from its process's
start (compilation included) and the median; writes ROOT/time_to_accuracy.json
(research/time_to_accuracy.py). `--first_seed=K` adds seeds to a root;
`--summarize` prints every seed timed under it.
"""

import sys

from absl import app, flags

from launch import cli

_CONFIG = flags.DEFINE_string('config', None, 'configs/NAME.py[:ARG]')
_ROOT = flags.DEFINE_string('root', None, 'A new directory: one workdir per seed.')
_METRIC = flags.DEFINE_string('metric', 'test_accuracy', 'The evaluation metric to reach.')
_TARGET = flags.DEFINE_float('target', None, 'The value to reach (at least; at most for '
                             'losses and error rates).')
_SEEDS = flags.DEFINE_integer('seeds', 5, 'Seeds 0 .. N-1.', lower_bound=1)
_FIRST_SEED = flags.DEFINE_integer('first_seed', 0, 'The first seed.')
_SUMMARIZE = flags.DEFINE_bool(
    'summarize', False, 'Train nothing: summarise every seed already timed under --root '
    '(seeds timed by several invocations, --first_seed).')
flags.mark_flags_as_required(['config', 'root', 'target'])


def main(argv):
  from research import errors
  from research import time_to_accuracy as tta
  overrides = argv[1:]
  try:
    if _SUMMARIZE.value:
      summary = tta.summarize(tta.read_runs(_ROOT.value, _METRIC.value), _METRIC.value,
                              _TARGET.value)
      print(tta.format_summary(summary))
      return
    summary = tta.time_to_accuracy(
        _CONFIG.value, _ROOT.value,
        range(_FIRST_SEED.value, _FIRST_SEED.value + _SEEDS.value),
        _METRIC.value, _TARGET.value, overrides)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  print(tta.format_summary(summary))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
