"""Synthetic training speech for isolated-word recognition, from Debian's
speech synthesisers espeak-ng and flite.

    python -m launch.synthesize_speech --dir=data/synth_words --words=digits,letters,phonetic

`plan(words, utterances_per_word, seed)` draws, with numpy's default_rng(seed),
a voice and its settings for every utterance: the synthesiser (espeak-ng or
flite, even odds), the voice (one of 7 espeak-ng English accents x 30 voice
variants, half of them female, or one of flite's 5 voices), its speaking rate
and pitch, then the recording: peak level, white noise at an SNR, and speed
perturbation (resampling by 0.9-1.1 as Ko et al. 2015, "Audio augmentation
for speech recognition"; tempo and pitch change together).

`render(utterance)` runs the synthesiser, trims the silence around the word
(frames more than 40 dB below the loudest, research/data/speech.py's rule),
resamples by the speed factor and then to the target rate (default 8000 Hz,
the telephone band of the real test recordings, Asterisk's prompts), scales
to the peak level and adds the noise, from default_rng((seed, 0, index)):
the same utterance renders to the same int16 samples every time (both
synthesisers are deterministic; checked for each flite voice and several
espeak-ng variants, klatt and croak included).

`generate(directory, ...)` writes DIRECTORY/WORD/NNNN.wav (16-bit PCM),
DIRECTORY/transcripts.csv (`audio,text,split`; an audio_folder dataset:
`--config.dataset.manual_dir=DIRECTORY`) and DIRECTORY/manifest.json (the
arguments and the synthesisers' versions). A directory that already holds the
same arguments' complete output is returned as it is; one made with other
arguments is refused, never overwritten.

What the synthesisers are given to say (`spoken_text`), checked without
listening by their phonemes (`espeak-ng -q -x`, `flite -ps`):
  * a letter is given as the capital ("A"): both read a lone letter as its
    name ('eI / ey, never the article), lower case too, for all 26 letters;
    espeak-ng's British accents say "zed" for z, as a British speaker would.
  * "xray" as "x-ray": flite spells "xray" out letter by letter.
  * "lima" as "leema" and "kilo" as "keylo": flite reads them as the bean
    (/laɪmə/) and /kɪloʊ/; NATO says LEE-mah, KEE-loh.
Transcripts are the words as the real recordings' transcripts write them
(Asterisk's phonetic/x_p.wav is "xray").
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
from typing import Callable, Protocol, Sequence

import numpy as np

from research import errors, fileio
from research.data import speech

WORD_LISTS = {
    'digits': ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
               'nine'),
    'letters': tuple('abcdefghijklmnopqrstuvwxyz'),
    # NATO's spelling alphabet (ICAO's "alfa" and "juliett" written as the
    # recordings' transcripts write them) and its "niner".
    'phonetic': ('alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel',
                 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa',
                 'quebec', 'romeo', 'sierra', 'tango', 'uniform', 'victor', 'whiskey', 'xray',
                 'yankee', 'zulu', 'niner'),
    # The command words of Warden 2018's Speech Commands (TFDS speech_commands).
    'commands': ('yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'),
}
# What to say where the transcript alone is read wrongly (module docstring).
SPOKEN = {'xray': 'x-ray', 'lima': 'leema', 'kilo': 'keylo'}

ESPEAK_ACCENTS = ('en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp',
                  'en-gb-x-gbcwmd', 'en-029')
# Variants of voices/!v with a human pitch (autocorrelation of "seven": the
# female ones 160-230 Hz, the male 70-105 Hz); '' is the accent's own voice.
ESPEAK_VARIANTS = (
    'f1', 'f2', 'f3', 'f4', 'f5', 'Alicia', 'Andrea', 'Annie', 'aunty', 'belinda', 'linda',
    'steph', 'anika', 'grandma', 'shelby',
    '', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'klatt', 'klatt2', 'klatt3', 'croak', 'Alex',
    'Andy', 'david')
# flite's voices and their mean pitch in Hz as measured here ("seven"), the
# centre of the drawn int_f0_target_mean; rms ignores that setting.
FLITE_VOICES = {'kal': 105, 'kal16': 105, 'awb': 110, 'rms': 97, 'slt': 160}

FLITE_SHARE = 0.5
# Slower than the defaults: at those, the synthesisers' words last 0.38-0.49 s
# (speech only, trimmed), the real prompts' 0.63 s on average.
ESPEAK_RATE_WPM = (100, 170)     # -s; espeak-ng's default is 175
ESPEAK_PITCH = (25, 75)          # -p, 0-99; default 50
FLITE_STRETCH = (1.0, 1.6)       # duration_stretch; > 1 is slower
FLITE_PITCH_FACTOR = (0.8, 1.3)  # times the voice's mean pitch
PEAK_DB = (-20.0, -2.0)          # dBFS; Asterisk's digits, letters, phonetic peak at -11 to -1
SNR_DB = (10.0, 40.0)
SPEED = (0.9, 1.1)
# Bumped whenever the same arguments would draw or render differently, so a
# directory written by an older generator is not taken for the new one's.
PLAN_VERSION = 1
INSTALL = 'sudo apt-get install espeak-ng flite'
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")  # one word, as research/data/speech.py reads it
_PHRASE_WORD = re.compile(r"(?:[a-z]{2,}|a|i)(?:'[a-z]+)?")  # said, not spelled
_SENTENCE_END = re.compile(r"[.!?;:]+|\n%\n|^%$", re.MULTILINE)
SENTENCE_FOLDER = 'sentences'
MANIFEST, TRANSCRIPTS = 'manifest.json', 'transcripts.csv'


class SynthesiserNotFoundError(errors.DataNotFoundError):
  """espeak-ng or flite (or a voice the plan uses) is not installed."""


@dataclasses.dataclass(frozen=True)
class Utterance:
  index: int          # position in the plan; with the seed, seeds the noise
  number: int         # the word's NNNN
  word: str           # the transcript
  synthesiser: str    # 'espeak-ng' or 'flite'
  voice: str          # espeak-ng ACCENT[+VARIANT] ('en-gb-scotland+f3'); flite's voice ('slt')
  rate: float         # espeak-ng words per minute (-s); flite duration_stretch
  pitch: float        # espeak-ng -p (0-99); flite int_f0_target_mean (Hz)
  peak_db: float      # the peak level, dBFS (the gain)
  snr_db: float       # speech power over white-noise power; inf: no noise
  speed: float        # speed perturbation: 1.1 is 10% faster and higher
  seed: int
  # The folder of its file: the word itself for a word list's utterance,
  # SENTENCE_FOLDER for a phrase's (research/data/speech_synth.py, sentences).
  folder: str = ''

  @property
  def audio(self) -> str:
    """The file, relative to the directory."""
    return f'{self.folder or self.word}/{self.number:04d}.wav'


def words_of(names: Sequence[str]) -> list[str]:
  """The words of the named WORD_LISTS, in order, each once."""
  unknown = [n for n in names if n not in WORD_LISTS]
  if unknown or not names:
    raise errors.ConfigError(f'word lists {", ".join(unknown) or "(none)"}: name some of '
                             f'{", ".join(WORD_LISTS)}.')
  words = []
  for name in names:
    words += [w for w in WORD_LISTS[name] if w not in words]
  return words


def spoken_text(word: str) -> str:
  if ' ' in word:  # a phrase: read as written ("a" is the article there)
    return word
  return word.upper() if len(word) == 1 and word.isalpha() else SPOKEN.get(word, word)


def plan(words: Sequence[str], utterances_per_word: int, seed: int) -> list[Utterance]:
  """Every word's utterances, word by word; the same arguments, the same plan."""
  _check_words(words)
  rng = np.random.default_rng(seed)
  return [_draw(rng, index=i * utterances_per_word + number, number=number, word=word,
                seed=seed)
          for i, word in enumerate(words) for number in range(utterances_per_word)]


def plan_sentences(sentences: Sequence[str], seed: int) -> list[Utterance]:
  """One utterance of each phrase, in order, under SENTENCE_FOLDER; the voices
  and settings drawn as `plan` draws them."""
  _check_sentences(sentences)
  rng = np.random.default_rng(seed)
  return [_draw(rng, index=i, number=i, word=text, seed=seed, folder=SENTENCE_FOLDER)
          for i, text in enumerate(sentences)]


def _draw(rng: np.random.Generator, **fields) -> Utterance:
  """An utterance's synthesiser, voice and recording settings, from `rng`."""
  # The same draws for either synthesiser, so each utterance takes as many.
  flite = bool(rng.random() < FLITE_SHARE)
  accent, variant = rng.integers(len(ESPEAK_ACCENTS)), rng.integers(len(ESPEAK_VARIANTS))
  flite_voices = sorted(FLITE_VOICES)
  flite_voice = flite_voices[rng.integers(len(flite_voices))]
  rate_u, pitch_u = rng.random(), rng.random()
  if flite:
    voice = flite_voice
    rate = round(_between(FLITE_STRETCH, rate_u), 2)
    pitch = float(round(FLITE_VOICES[voice] * _between(FLITE_PITCH_FACTOR, pitch_u)))
  else:
    voice = ESPEAK_ACCENTS[accent] + (f'+{ESPEAK_VARIANTS[variant]}'
                                      if ESPEAK_VARIANTS[variant] else '')
    rate = float(round(_between(ESPEAK_RATE_WPM, rate_u)))
    pitch = float(round(_between(ESPEAK_PITCH, pitch_u)))
  return Utterance(
      synthesiser='flite' if flite else 'espeak-ng', voice=voice, rate=rate, pitch=pitch,
      peak_db=round(float(rng.uniform(*PEAK_DB)), 1),
      snr_db=round(float(rng.uniform(*SNR_DB)), 1),
      speed=round(float(rng.uniform(*SPEED)), 2), **fields)


def phrases_from_text(text: str, count: int, seed: int, *, min_words: int = 2,
                      max_words: int = 8) -> list[str]:
  """`count` distinct phrases of `min_words` to `max_words` words from a
  corpus, for the synthesisers to say: the text is cut into sentences (at . ! ?
  ; : and at fortune's `%` lines), each normalised as transcripts are (lower
  case, punctuation dropped); a sentence with a word that is not letters (a
  number, a lone letter other than "a" and "i", which a synthesiser would
  spell) is dropped; a longer one gives a window of a random length. Drawn
  with default_rng((seed, 2)); the same text and arguments, the same phrases."""
  if not 1 <= min_words <= max_words:
    raise errors.ConfigError(f'min_words={min_words}, max_words={max_words}: '
                             '1 <= min_words <= max_words.')
  rng = np.random.default_rng([seed, 2])
  sentences = []
  for piece in _SENTENCE_END.split(text):
    words = speech.normalise_text(piece).split()
    if len(words) >= min_words and all(_PHRASE_WORD.fullmatch(w) for w in words):
      sentences.append(words)
  phrases, seen = [], set()
  for k in rng.permutation(len(sentences)):
    words = sentences[k]
    if len(words) > max_words:
      n = int(rng.integers(min_words, max_words + 1))
      start = int(rng.integers(0, len(words) - n + 1))
      words = words[start:start + n]
    phrase = ' '.join(words)
    if phrase not in seen:
      seen.add(phrase)
      phrases.append(phrase)
      if len(phrases) == count:
        return phrases
  raise errors.DataError(
      f'the text gives {len(phrases):,} distinct phrases of {min_words}-{max_words} words, '
      f'{count:,} were asked for: give more text or ask for fewer.')


def read_corpus(path: str) -> str:
  """A text file, or every file under a folder (sorted; fortune's .dat index
  files and .u8 links to its text files, and files not UTF-8, skipped), joined."""
  if not fileio.exists(path):
    raise errors.DataNotFoundError(
        f'{path}: no such file or folder. The default text is Debian\'s fortunes '
        '(`sudo apt-get install fortunes`: /usr/share/games/fortunes); any plain English '
        'text will do (--text=FILE_OR_FOLDER).')
  if not fileio.isdir(path):
    return fileio.read_text(path)
  parts = []
  for name in fileio.walk_files(path):
    if name.endswith(('.dat', '.u8')):
      continue
    try:
      parts.append(fileio.read_text(fileio.join(path, name)))
    except UnicodeDecodeError:
      continue
  if not parts:
    raise errors.DataError(f'{path} holds no UTF-8 text file.')
  return '\n%\n'.join(parts)


def splits(utterances: Sequence[Utterance], validation_fraction: float) -> list[str]:
  """'train' or 'validation' for each utterance: round(fraction x n) of each
  word's n utterances, at least one of two or more when the fraction is above
  0, drawn from default_rng((seed, 1))."""
  if not utterances:
    return []
  rng = np.random.default_rng([utterances[0].seed, 1])
  out = ['train'] * len(utterances)
  by_word: dict[str, list[int]] = {}
  for i, u in enumerate(utterances):  # a word's utterances, or all the phrases
    by_word.setdefault(u.folder or u.word, []).append(i)
  for members in by_word.values():
    n = round(validation_fraction * len(members))
    if validation_fraction > 0 and len(members) > 1:
      n = max(n, 1)
    for k in rng.permutation(len(members))[:n]:
      out[members[k]] = 'validation'
  return out


class Synthesiser(Protocol):
  def __call__(self, utterance: Utterance) -> tuple[np.ndarray, int]:
    """The utterance's speech as floats in [-1, 1] and its sample rate."""

  def versions(self) -> dict[str, str]:
    """The tools' versions, for the manifest; raises when one is missing."""


class InstalledSynthesisers:
  """espeak-ng and flite as installed (`render`'s default)."""

  def __call__(self, utterance: Utterance) -> tuple[np.ndarray, int]:
    import soundfile as sf
    text = spoken_text(utterance.word)
    with tempfile.TemporaryDirectory(prefix='speech_synth_') as tmp:
      path = os.path.join(tmp, 'out.wav')
      if utterance.synthesiser == 'espeak-ng':
        command = ['espeak-ng', '-v', utterance.voice, '-s', str(int(utterance.rate)),
                   '-p', str(int(utterance.pitch)), '-w', path, text]
      elif utterance.synthesiser == 'flite':
        command = ['flite', '-voice', utterance.voice,
                   '--setf', f'duration_stretch={utterance.rate}',
                   '--setf', f'int_f0_target_mean={utterance.pitch}', '-t', text, '-o', path]
      else:
        raise errors.ConfigError(f'synthesiser {utterance.synthesiser!r}: espeak-ng or flite.')
      _run(command)
      if not os.path.exists(path) or os.path.getsize(path) <= 44:
        raise errors.DataError(f'`{" ".join(command)}` wrote no audio.')
      samples, rate = sf.read(path, dtype='float32', always_2d=True)
    return samples[:, 0], int(rate)

  def versions(self) -> dict[str, str]:
    for tool in ('espeak-ng', 'flite'):
      if shutil.which(tool) is None:
        raise SynthesiserNotFoundError(
            f'{tool} is not installed; the synthetic training speech needs espeak-ng and '
            f'flite: `{INSTALL}` (Debian/Ubuntu).')
    # Either tool falls back to another voice without a word when one is
    # missing (flite to kal): check that every voice the plan draws is here.
    flite_voices = set(_run(['flite', '-lv']).split(':', 1)[-1].split())
    espeak_voices = set(re.findall(r'!v/(\S+)', _run(['espeak-ng', '--voices=variant'])))
    english = _run(['espeak-ng', '--voices=en'])
    missing = ([v for v in FLITE_VOICES if v not in flite_voices]
               + [f'espeak-ng variant {v}' for v in ESPEAK_VARIANTS if v and v not in espeak_voices]
               + [f'espeak-ng {a}' for a in ESPEAK_ACCENTS if f' {a} ' not in english])
    if missing:
      raise SynthesiserNotFoundError(
          f'voices missing: {", ".join(missing)}. Install the Debian packages with their '
          f'voices: `{INSTALL}`.')
    return {'espeak-ng': ' '.join(_run(['espeak-ng', '--version']).split()),
            # flite --version exits 1 after printing it.
            'flite': ' '.join(_run(['flite', '--version'], exit_codes=(0, 1)).split())}


def render(utterance: Utterance, sample_rate: int = 8000,
           synthesiser: Synthesiser | None = None) -> np.ndarray:
  """The utterance as int16 mono samples at `sample_rate`; deterministic."""
  from scipy import signal
  speech_at, rate = (synthesiser or InstalledSynthesisers())(utterance)
  start, end = speech.speech_span(np.asarray(speech_at, np.float64), rate)
  wave = np.asarray(speech_at[start:end], np.float64)
  for up, down in ((100, round(utterance.speed * 100)), (sample_rate, rate)):
    g = math.gcd(up, down)
    if up != down:
      wave = signal.resample_poly(wave, up // g, down // g)
  peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
  if peak == 0.0:
    raise errors.DataError(f'{utterance.synthesiser} {utterance.voice} said nothing for '
                           f'{utterance.word!r} (all zeros).')
  wave *= 10 ** (utterance.peak_db / 20) / peak
  if math.isfinite(utterance.snr_db):
    noise_rng = np.random.default_rng([utterance.seed, 0, utterance.index])
    noise_power = np.mean(wave ** 2) / 10 ** (utterance.snr_db / 10)
    wave = wave + noise_rng.standard_normal(len(wave)) * math.sqrt(noise_power)
  return np.clip(np.round(wave * 32767), -32768, 32767).astype(np.int16)


@dataclasses.dataclass(frozen=True)
class Synthesised:
  directory: str
  utterances: int
  train: int
  validation: int
  audio_seconds: float
  cached: bool  # the directory already held it; nothing was rendered


def generate(directory: str, words: Sequence[str], utterances_per_word: int, seed: int,
             sample_rate: int = 8000, validation_fraction: float = 0.1, workers: int = 1, *,
             sentences: Sequence[str] = (), synthesiser: Synthesiser | None = None,
             progress: Callable[[int, int], None] | None = None) -> Synthesised:
  """Renders the plan into DIRECTORY/WORD/NNNN.wav (with `sentences` instead
  of words: one utterance of each phrase, DIRECTORY/sentences/NNNN.wav), then
  transcripts.csv and manifest.json. `progress(done, total)` follows the rendering. An unfinished
  directory of the same arguments is completed (files written atomically are
  kept); one of other arguments, or one with files but no manifest, is refused."""
  synthesiser = synthesiser or InstalledSynthesisers()
  arguments = _arguments(words, utterances_per_word, seed, sample_rate, validation_fraction,
                         sentences)
  if workers < 1:
    raise errors.ConfigError(f'workers={workers}: at least 1.')
  manifest_path = fileio.join(directory, MANIFEST)
  try:
    manifest = fileio.read_json(manifest_path) if fileio.exists(manifest_path) else None
  except ValueError as e:  # not JSON: refused below as another run's
    manifest = {'unreadable': str(e)}
  if manifest is not None:
    done = _cached(directory, manifest, arguments)
    if done is not None:
      return done
  elif fileio.exists(directory) and fileio.listdir(directory):
    raise errors.DataError(
        f'{directory} has files but no {MANIFEST}: not a directory of synthetic speech. '
        'Give a new or empty --dir.')
  tools = synthesiser.versions()
  record = {'generator': 'research/data/speech_synth.py', 'arguments': arguments,
            'tools': tools, 'complete': False}
  fileio.write_json(manifest_path, record)

  utterances = (plan_sentences(sentences, seed) if sentences else
                plan(words, utterances_per_word, seed))
  todo = [u for u in utterances if not fileio.exists(fileio.join(directory, u.audio))]
  jobs = [(u, sample_rate, synthesiser, fileio.join(directory, u.audio)) for u in todo]
  if workers == 1 or len(jobs) < 2:
    results = map(_render_file, jobs)
    _report(results, len(jobs), progress)
  else:
    context = multiprocessing.get_context('spawn')  # no fork of a process holding threads
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
      _report(pool.map(_render_file, jobs, chunksize=4), len(jobs), progress)

  import soundfile as sf
  frames = sum(sf.info(fileio.join(directory, u.audio)).frames for u in utterances)
  split = splits(utterances, validation_fraction)
  table = io.StringIO()
  writer = csv.writer(table, lineterminator='\n')
  writer.writerow(['audio', 'text', 'split'])
  writer.writerows([u.audio, u.word, s] for u, s in zip(utterances, split))
  fileio.write_atomically(fileio.join(directory, TRANSCRIPTS), table.getvalue())
  result = Synthesised(directory, len(utterances), split.count('train'),
                       split.count('validation'), round(frames / sample_rate, 2), cached=False)
  record.update(complete=True, utterances=result.utterances, train=result.train,
                validation=result.validation, audio_seconds=result.audio_seconds)
  fileio.write_json(manifest_path, record)
  return result


def _arguments(words, utterances_per_word, seed, sample_rate, validation_fraction,
               sentences=()) -> dict:
  if sentences:
    if words:
      raise errors.ConfigError('give words or sentences, not both.')
    _check_sentences(sentences)
    digest = hashlib.sha256('\n'.join(sentences).encode('utf-8')).hexdigest()
    words, utterances_per_word = [], 1
  else:
    _check_words(words)
  if int(utterances_per_word) != utterances_per_word or utterances_per_word < 1:
    raise errors.ConfigError(f'utterances_per_word={utterances_per_word}: a positive integer.')
  if int(seed) != seed or seed < 0:
    raise errors.ConfigError(f'seed={seed}: a non-negative integer.')
  if int(sample_rate) != sample_rate or not 4000 <= sample_rate <= 48000:
    raise errors.ConfigError(f'sample_rate={sample_rate}: an integer from 4000 to 48000 Hz.')
  if not 0 <= validation_fraction < 1:
    raise errors.ConfigError(f'validation_fraction={validation_fraction}: from 0 to below 1.')
  arguments = {'words': list(words), 'utterances_per_word': int(utterances_per_word),
               'seed': int(seed), 'sample_rate': int(sample_rate),
               'validation_fraction': float(validation_fraction), 'plan_version': PLAN_VERSION}
  if sentences:  # the phrases themselves are in transcripts.csv; here their count and hash
    arguments |= {'sentences': len(sentences), 'sentences_sha256': digest}
  return arguments


def _cached(directory: str, manifest: dict, arguments: dict) -> Synthesised | None:
  """The directory's result when it is complete for `arguments`; None when it
  is an unfinished run of them; refuses other arguments."""
  theirs = manifest.get('arguments') if isinstance(manifest, dict) else None
  if theirs != arguments:
    theirs = theirs if isinstance(theirs, dict) else {}
    differ = [f'{k} {theirs.get(k)!r} there, {v!r} asked' for k, v in arguments.items()
              if theirs.get(k) != v]
    shown = [d if len(d) < 120 else d[:117] + '...' for d in differ]
    raise errors.DataError(
        f'{directory} holds synthetic speech of other arguments ({"; ".join(shown)}). '
        'Give another --dir, or delete this one to make it anew.')
  transcripts = fileio.join(directory, TRANSCRIPTS)
  if not manifest.get('complete') or not fileio.exists(transcripts):
    return None
  rows = list(csv.DictReader(io.StringIO(fileio.read_text(transcripts))))
  if not rows or not all(fileio.exists(fileio.join(directory, r['audio'])) for r in rows):
    return None
  return Synthesised(directory, manifest['utterances'], manifest['train'],
                     manifest['validation'], manifest['audio_seconds'], cached=True)


def _render_file(job) -> int:
  """Renders one utterance into its file (in a worker process too)."""
  import soundfile as sf
  utterance, sample_rate, synthesiser, path = job
  samples = render(utterance, sample_rate, synthesiser)
  buffer = io.BytesIO()
  sf.write(buffer, samples, sample_rate, format='WAV', subtype='PCM_16')
  fileio.write_atomically(path, buffer.getvalue())
  return len(samples)


def _report(results, total: int, progress) -> None:
  for done, _ in enumerate(results, 1):
    if progress is not None:
      progress(done, total)


def _check_words(words: Sequence[str]) -> None:
  bad = [w for w in words if not isinstance(w, str) or not _WORD.fullmatch(w)]
  if bad or not words or len(set(words)) != len(words):
    raise errors.ConfigError(
        f'words {bad or list(words)[:6]}: give distinct single words in lower case '
        "(letters, digits, an inner apostrophe), as transcripts and folder names.")


def _check_sentences(sentences: Sequence[str]) -> None:
  bad = [t for t in sentences
         if not isinstance(t, str) or not all(_WORD.fullmatch(w) for w in t.split(' '))]
  if bad or not sentences or len(set(sentences)) != len(sentences):
    raise errors.ConfigError(
        f'sentences {bad[:3] or list(sentences)[:3]}: give distinct phrases of lower-case '
        'words separated by single spaces, as transcripts are written.')


def _between(bounds: tuple[float, float], u: float) -> float:
  return bounds[0] + (bounds[1] - bounds[0]) * float(u)


def _run(command: list[str], exit_codes: tuple[int, ...] = (0,)) -> str:
  try:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
  except FileNotFoundError:
    raise SynthesiserNotFoundError(
        f'{command[0]} is not installed: `{INSTALL}` (Debian/Ubuntu).') from None
  except subprocess.TimeoutExpired:
    raise errors.DataError(f'`{" ".join(command)}` ran over 60 s.') from None
  if done.returncode not in exit_codes or not (done.stdout or done.returncode == 0):
    message = ' '.join((done.stderr or done.stdout).split())[:300]
    raise errors.DataError(f'`{" ".join(command)}` failed (exit {done.returncode}): {message}')
  return done.stdout
