r"""Synthetic training speech for the isolated-word recognisers, from espeak-ng and flite.

  python -m launch.synthesize_speech                       # data/synth_words: 63 words x 60
  python -m launch.synthesize_speech --words=digits --per_word=200 --dir=data/synth_digits
  python -m launch.synthesize_speech --workers=2           # two synthesiser processes
  python -m launch.synthesize_speech --sentences=12000 --dir=data/synth_sentences
                                          # phrases of fortunes, for the CTC recogniser

Writes DIR/WORD/NNNN.wav (16-bit PCM, --sample_rate Hz), DIR/transcripts.csv
(audio,text,split) and DIR/manifest.json; research/data/speech_synth.py says
how each utterance's voice, rate, pitch, level, noise and speed are drawn
(--seed). The same flags on the same DIR return at once; other flags on it
are refused. Needs `sudo apt-get install espeak-ng flite` (Debian/Ubuntu).
"""

import sys
import time

from absl import app, flags

from launch import cli

_DIR = flags.DEFINE_string('dir', 'data/synth_words', 'Directory to write the utterances into.')
_WORDS = flags.DEFINE_string('words', 'digits,letters,phonetic',
                             'Word lists, comma-separated (research/data/speech_synth.py '
                             'WORD_LISTS: digits, letters, phonetic).')
_SENTENCES = flags.DEFINE_integer(
    'sentences', 0, 'Instead of words: this many distinct phrases of 2-8 words from --text, one '
    'utterance each (DIR/sentences/NNNN.wav), for the sentence recogniser.')
_TEXT = flags.DEFINE_string('text', '/usr/share/games/fortunes',
                            'With --sentences: a plain-text file or folder to take the phrases '
                            "from (default: Debian's fortunes, `sudo apt-get install fortunes`).")
_PER_WORD = flags.DEFINE_integer('per_word', 200, 'Utterances of each word.')
_SEED = flags.DEFINE_integer('seed', 0, 'Draws the voices, their settings, the noise and the '
                             'validation split.')
_SAMPLE_RATE = flags.DEFINE_integer('sample_rate', 8000, 'Sample rate of the WAVs, Hz (8000: '
                                    'the telephone band of the real test recordings).')
_WORKERS = flags.DEFINE_integer('workers', 1, 'Processes rendering at once (about one core each).')


class Progress:
  """A line every 10 s: utterances done, per second, and the time left."""

  def __init__(self):
    self.start = self.shown = time.monotonic()

  def __call__(self, done: int, total: int) -> None:
    now = time.monotonic()
    if now - self.shown < 10 and done < total:
      return
    self.shown = now
    rate = done / max(now - self.start, 1e-9)
    left = (total - done) / rate if rate > 0 else 0
    print(f'{done:,}/{total:,} utterances, {rate:.1f}/s, ETA {left // 60:.0f} min '
          f'{left % 60:02.0f} s', flush=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  from research import errors
  from research.data import speech_synth
  names = [n.strip() for n in _WORDS.value.split(',') if n.strip()]
  try:
    if _SENTENCES.value:
      words = []
      sentences = speech_synth.phrases_from_text(speech_synth.read_corpus(_TEXT.value),
                                                 _SENTENCES.value, _SEED.value)
    else:
      words, sentences = speech_synth.words_of(names), ()
    made = speech_synth.generate(
        _DIR.value, words, _PER_WORD.value, _SEED.value, sample_rate=_SAMPLE_RATE.value,
        workers=_WORKERS.value, sentences=sentences, progress=Progress())
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  what = (f'{made.utterances:,} utterances of '
          f'{f"{len(words)} words" if words else "as many phrases"} ({made.train:,} train, '
          f'{made.validation:,} validation; {made.audio_seconds / 60:.1f} min of audio at '
          f'{_SAMPLE_RATE.value} Hz)')
  if made.cached:
    print(f'{made.directory} already holds {what} for these flags; nothing to do.')
  else:
    print(f'Wrote {what} to {made.directory}: {"WORD" if words else "sentences"}/NNNN.wav, '
          'transcripts.csv, manifest.json.')
  print(f'Train on it with --config.dataset.manual_dir={made.directory} (an audio_folder '
        "dataset; transcripts.csv's split column gives train and validation).")


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
