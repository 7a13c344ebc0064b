r"""Transcribe audio files with a trained CTC recogniser (best path and beam search).

  python -m launch.transcribe --workdir=DIR FILE [FILE ...] [--beam=N]

DIR is a `launch.train` workdir of configs/spoken_sentences.py (task
transcription); its latest checkpoint is used. Each FILE (WAV, FLAC, OGG...,
mono) must be at the run's sample rate (8000 Hz for the default config): other
rates are refused, not resampled. Prints two lines per file: its best-path
and its beam-search transcript. Bad input (a missing file, a file that is not
audio, another sample rate, a workdir of another task) is one `error:` line and
exit code 2.
"""

import sys

from absl import app, flags, logging

from launch import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A transcription run of launch.train.')
_BEAM = flags.DEFINE_integer('beam', None, "Beam size (default: the run's decode.beam_size).")
flags.mark_flags_as_required(['workdir'])


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError('Give at least one audio file to transcribe.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, transcribe
  try:
    transcriber = transcribe.load_transcriber(_WORKDIR.value)
    texts = transcribe.transcribe_files(transcriber, paths, beam_size=_BEAM.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  for path, greedy, beam in zip(paths, texts['greedy'], texts['beam']):
    print(f'{path} [best path]: {greedy}')
    print(f'{path} [beam]: {beam}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
