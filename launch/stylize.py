r"""Stylise photos with a trained feed-forward style network (one forward pass each).

  python -m launch.stylize --workdir=DIR PHOTO [PHOTO ...] [--out_dir=DIR/stylized] [--size=N]

DIR is a `launch.train` workdir of configs/johnson_style.py; its latest
checkpoint is used. Each photo is written as OUT_DIR/NAME.png, and the time
of its forward pass is printed (compilation, once per image size, apart).
"""

import os
import sys

from absl import app, flags, logging

from launch import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A fast_neural_style run of launch.train.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Where the PNGs go (default: WORKDIR/stylized).')
_SIZE = flags.DEFINE_integer('size', None, "Resize each photo's longer side to this many "
                             'pixels first (default: as it is).')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  photos = argv[1:]
  if not photos:
    raise app.UsageError('Give at least one photo to stylise.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, fileio, stylize
  out_dir = _OUT_DIR.value or fileio.join(_WORKDIR.value, 'stylized')
  try:
    stylizer = stylize.load_stylizer(_WORKDIR.value)
    for photo in photos:
      name = os.path.splitext(os.path.basename(photo))[0]
      done = stylize.stylize_file(stylizer, photo, fileio.join(out_dir, f'{name}.png'),
                                  long_side=_SIZE.value)
      h, w, _ = done.shape
      print(f'{done.path}: {w}x{h} in {done.seconds:.3f} s (forward pass; compiled in '
            f'{done.compile_seconds:.1f} s)')
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
