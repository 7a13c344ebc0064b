r"""Run a demo of the classic results and save its picture and numbers.

  python -m launch.demo NAME --outdir=DIR [--small] [--seed=0]

NAME: decision_boundaries, universal_approximation, backprop, param_count,
translation, or all (research/demos/__init__.py, DEMOS). Writes DIR/NAME.png
and DIR/NAME.json and prints a short summary of each. --small runs the fast
settings the tests use.
"""

import sys

from absl import app, flags, logging

_OUTDIR = flags.DEFINE_string('outdir', None, 'Where the PNGs and JSON files go.')
_SMALL = flags.DEFINE_bool('small', False, 'Fast, smaller settings (seconds on a CPU).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed for data and initialisation.')
flags.mark_flags_as_required(['outdir'])


def main(argv):
  if len(argv) != 2:
    raise app.UsageError('Give exactly one demo name, e.g. `param_count`, or `all`.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import demos, errors
  try:
    names = demos.resolve(argv[1])
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  for name in names:
    result = demos.run_and_save(name, _OUTDIR.value, small=_SMALL.value, seed=_SEED.value)
    print(f'== {name} -> {_OUTDIR.value}/{name}.{{png,json}}\n{result.describe()}')


if __name__ == '__main__':
  app.run(main)
