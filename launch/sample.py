r"""Sample text from a trained language model.

  python -m launch.sample --workdir=DIR [--prompt=TEXT] [--length=500] \
      [--temperature=0.8] [--seed=0]

DIR is a `launch.train` workdir of a language-model config; the latest
checkpoint is used. Temperature 0 picks the most likely token at every step;
higher values give more varied (and more erratic) text.
"""

import sys

from absl import app, flags, logging

from launch import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A language-model run of launch.train.')
_PROMPT = flags.DEFINE_string('prompt', '\n', 'Text the sample continues.')
_LENGTH = flags.DEFINE_integer('length', 500, 'Tokens to sample.')
_TEMPERATURE = flags.DEFINE_float('temperature', 0.8, 'Softmax temperature (0: greedy).')
_SEED = flags.DEFINE_integer('seed', 0, 'Sampling seed.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, sample
  try:
    print(sample.sample(_WORKDIR.value, prompt=_PROMPT.value, length=_LENGTH.value,
                        temperature=_TEMPERATURE.value, seed=_SEED.value))
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
