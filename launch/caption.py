r"""Caption images with a trained Show-and-Tell run (beam search).

  python -m launch.caption --workdir=DIR IMAGE [IMAGE ...] [--beam=N]

DIR is a `launch.train` workdir of configs/tuxpaint_captioning.py (task
captioning); its latest checkpoint and vocabulary are used, and its encoder
(the pretrained weights in the config's encoder.weights_dir). Prints one line
per image: the file and its caption.
"""

import sys

from absl import app, flags, logging

from launch import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A captioning run of launch.train.')
_BEAM = flags.DEFINE_integer('beam', None, "Beam size (default: the run's decode.beam_size).")
flags.mark_flags_as_required(['workdir'])


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError('Give at least one image to caption.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import caption, errors
  try:
    captioner = caption.load_captioner(_WORKDIR.value)
    for path, text in zip(paths, caption.caption_files(captioner, paths, beam_size=_BEAM.value)):
      print(f'{path}: {text}')
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
