"""Shared command-line plumbing for the launchers (no flags defined here)."""

import sys

from absl import flags


def parse_flags(argv):
  """absl flag parsing with one-line errors for bad configs and overrides."""
  from research import errors
  try:
    return flags.FLAGS(argv)
  except errors.UserError as e:  # From get_config(arg), e.g. an unknown ARG.
    message = str(e)
  except flags.Error as e:  # Wrong type or unparsable --config.KEY=VALUE.
    message = str(e)
  except (AttributeError, KeyError) as e:  # --config.KEY that the config lacks.
    key = str(e).strip('"\'')
    message = (f'--config override names {key!r}, which the config does not '
               'declare (configs are locked; check the spelling against the file).')
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)
