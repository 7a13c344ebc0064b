"""TFDS builder for speech recordings with transcripts in a local directory.

The directory (TFDS's `manual_dir`) holds audio files, in subfolders too, and
one transcript source that gives every transcribed file its transcript, by
the file's path relative to the directory:

- `transcripts.csv` at the top: a header row with the columns `audio` and
  `text` (and optionally `split`), then one row per audio file;
- `transcripts.json` at the top: `{"path/to/file.wav": "transcript", ...}`
  (a one-element list of strings is accepted too);
- LibriSpeech as distributed: `*.trans.txt` files in any subfolders, lines
  `UTTERANCE-ID transcript words`, the audio `UTTERANCE-ID.flac` in the same
  folder as its `.trans.txt`.

Exactly one of these may be present. Audio files the transcripts do not name
are ignored; a transcript naming an audio file that is not there, an empty
transcript, a file soundfile cannot read or a file of more than one channel
stops the build with its name.

Audio is decoded with soundfile (WAV, FLAC, OGG, ...) and stored as int16
samples (float and 24/32-bit files scaled to 16 bits, rounded) at the
file's own rate, with that rate: the builder does not
resample (the task checks the rate against its config) and does not mix
down (a stereo file is refused rather than silently averaged). Transcripts
are stored as written, whitespace collapsed (normalisation belongs to the
task's vocabulary).

Split: the csv's own `split` column (`val`/`dev` read as `validation`); else
LibriSpeech's subset folders (`train-*` train, `dev-*` validation, `test-*`
test: its speakers are disjoint across them); else stable under additions: a
file is `test` when the first byte of the sha1 of its relative path is below
52 (about 20%), else `train` (caption_folder.hash_split). Only splits with
examples are written.
"""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import tensorflow_datasets as tfds

from research import errors, fileio
from research.data.builders import caption_folder

TRANSCRIPT_FILES = ('transcripts.csv', 'transcripts.json')
LIBRISPEECH_SUFFIX = '.trans.txt'
SPLITS = ('train', 'validation', 'test')
RELEASE_1_0_0 = 'Written as ArrayRecord with int16 samples: builds and reads without TensorFlow.'
_HOW = ('transcripts.csv (columns audio,text[,split]), transcripts.json '
        '({"audio path": "transcript"}) or LibriSpeech *.trans.txt files (lines '
        '"UTTERANCE-ID transcript" beside UTTERANCE-ID.flac)')


class AudioFolderError(errors.DataNotFoundError, ValueError):
  """Transcripts or audio that cannot be used; the message names the file and
  what to fix. A ValueError too, as TFDS builders report bad local files."""


def _clean(transcript: str, where: str) -> str:
  text = ' '.join(str(transcript).split())
  if not text:
    raise AudioFolderError(f'{where}: an empty transcript. Remove the entry or write its '
                           'transcript')
  return text


def _key(audio: str) -> str:
  """An audio path as the transcripts give it -> relative, '/'-separated."""
  key = audio.strip().replace('\\', '/')
  return key[2:] if key.startswith('./') else key


def _add(transcripts: dict, audio: str, text: str, where: str) -> None:
  key = _key(audio)
  if not key:
    raise AudioFolderError(f'{where}: no audio path')
  if key in transcripts:
    raise AudioFolderError(f'{where}: {key!r} has a second transcript; keep one')
  transcripts[key] = _clean(text, f'{where}, {key!r}')


def read_csv(text: str, where: str) -> tuple[dict[str, str], dict[str, str]]:
  """(audio -> transcript, audio -> split when the file has a `split` column)."""
  rows = csv.DictReader(io.StringIO(text))
  columns = rows.fieldnames or []
  if 'audio' not in columns or 'text' not in columns:
    raise AudioFolderError(f'{where}: the header must name the columns "audio" and "text" '
                           f'(and optionally "split"); it has {columns}')
  transcripts: dict[str, str] = {}
  splits: dict[str, str] = {}
  for line, row in enumerate(rows, start=2):
    _add(transcripts, row['audio'] or '', row['text'] or '', f'{where}, line {line}')
    if 'split' in columns:
      split = (row['split'] or '').strip()
      split = {'val': 'validation', 'dev': 'validation'}.get(split, split)
      if split not in SPLITS:
        raise AudioFolderError(f'{where}, line {line}: split {row["split"]!r}; use one of '
                               f'{", ".join(SPLITS)}')
      splits[_key(row['audio'])] = split
  return transcripts, splits


def read_json(text: str, where: str) -> dict[str, str]:
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise AudioFolderError(f'{where}: not valid JSON ({e})') from e
  if not isinstance(data, dict):
    raise AudioFolderError(f'{where}: expected an object {{"audio path": "transcript"}}, '
                           f'got a {type(data).__name__}')
  transcripts: dict[str, str] = {}
  for audio, value in data.items():
    if isinstance(value, list) and len(value) == 1:
      value = value[0]
    if not isinstance(value, str):
      raise AudioFolderError(f'{where}: {audio!r} must map to one transcript (a string), '
                             f'not {value!r}')
    _add(transcripts, audio, value, where)
  return transcripts


def read_librispeech(text: str, where: str, folder: str) -> dict[str, str]:
  """A LibriSpeech `*.trans.txt` in `folder` (relative to the top):
  `UTTERANCE-ID transcript` lines -> {folder/UTTERANCE-ID.flac: transcript}."""
  transcripts: dict[str, str] = {}
  for line, raw in enumerate(text.splitlines(), start=1):
    if not raw.strip():
      continue
    utterance, _, transcript = raw.strip().partition(' ')
    audio = f'{folder}/{utterance}.flac' if folder else f'{utterance}.flac'
    _add(transcripts, audio, transcript, f'{where}, line {line}')
  return transcripts


def all_files(directory: str) -> list[str]:
  """Paths of every file under `directory` (local or remote), relative to it,
  sorted; hidden files and folders skipped."""
  return fileio.walk_files(directory)


def find_transcripts(directory: str, files: list[str]) -> tuple[str, list[str]]:
  """(kind, relative paths) of the one transcript source: 'transcripts.csv' or
  'transcripts.json' (one file each), or 'librispeech' (every *.trans.txt).
  `files`: all_files(directory)."""
  top = [n for n in TRANSCRIPT_FILES if n in files]
  librispeech = [f for f in files if f.endswith(LIBRISPEECH_SUFFIX)]
  sources = [(n, [n]) for n in top] + ([('librispeech', librispeech)] if librispeech else [])
  if not sources:
    raise AudioFolderError(
        f'{directory}: no transcript file. Put {_HOW} in it (`python -m launch.get_data '
        'asterisk_sounds` writes a transcripts.csv)')
  if len(sources) > 1:
    named = top + librispeech[:3]
    more = f' and {len(librispeech) - 3} more *.trans.txt' if len(librispeech) > 3 else ''
    raise AudioFolderError(f'{directory}: several transcript sources ({", ".join(named)}{more}); '
                           'keep one')
  return sources[0]


def read_transcripts(directory: str, files: list[str] | None = None
                     ) -> tuple[dict[str, str], dict[str, str]]:
  """(audio path relative to `directory` -> transcript, -> split where the
  csv gives one). `files`: all_files(directory), when already listed."""
  files = all_files(directory) if files is None else files
  kind, names = find_transcripts(directory, files)
  splits: dict[str, str] = {}
  transcripts: dict[str, str] = {}
  for name in names:
    where = fileio.join(directory, name)
    text = fileio.read_bytes(where).decode('utf-8-sig')
    if kind == 'transcripts.csv':
      transcripts, splits = read_csv(text, where)
    elif kind == 'transcripts.json':
      transcripts = read_json(text, where)
    else:
      for audio, transcript in read_librispeech(text, where, name.rpartition('/')[0]).items():
        transcripts[audio] = transcript  # keys carry their folder: no clash across files
  if not transcripts:
    raise AudioFolderError(f'{fileio.join(directory, names[0])}: no transcripts')
  return transcripts, splits


def check_present(directory: str, transcribed, files: list[str]) -> None:
  """Every transcribed audio path is a file under `directory`."""
  present = set(files)
  missing = [a for a in sorted(transcribed) if a not in present]
  if missing:
    kind, names = find_transcripts(directory, files)
    source = f'{directory}/**/*{LIBRISPEECH_SUFFIX}' if kind == 'librispeech' else (
        fileio.join(directory, names[0]))
    raise AudioFolderError(
        f'{source}: names {len(missing)} audio file(s) that are not there (paths relative to '
        f'{directory}), e.g. {missing[:3]}. Add them or remove their transcripts')


def read_audio(data: bytes, where: str) -> tuple[np.ndarray, int]:
  """An audio file's bytes as (int16 mono samples, sample rate)."""
  import soundfile as sf
  try:
    # Read as float and scale here: libsndfile reads a float file as int16
    # unscaled (0.5 -> 0). 16-bit PCM comes back exactly (v / 32768 * 32768).
    samples, rate = sf.read(io.BytesIO(data), dtype='float64', always_2d=True)
  except (sf.SoundFileError, RuntimeError, TypeError) as e:
    raise AudioFolderError(f'{where}: not audio soundfile can read ({e}). Remove or replace '
                           'it (WAV, FLAC, OGG, ...)') from e
  if samples.shape[1] != 1:
    raise AudioFolderError(
        f'{where}: {samples.shape[1]} channels; audio_folder stores mono and does not mix '
        'down. Convert it (e.g. `ffmpeg -i IN -ac 1 OUT` or `sox IN -c 1 OUT`) or remove it')
  if not len(samples):
    raise AudioFolderError(f'{where}: no samples. Remove it and its transcript')
  return np.clip(np.round(samples[:, 0] * 32768), -32768, 32767).astype(np.int16), int(rate)


# LibriSpeech's subsets by the folder they ship in (train-clean-100, dev-other, ...).
_LIBRISPEECH_SUBSETS = {'train': 'train', 'dev': 'validation', 'test': 'test'}


def librispeech_split(relative_path: str) -> str | None:
  """The split of a file under a LibriSpeech subset folder (`train-*`,
  `dev-*`, `test-*`, at any depth: each speaker in one subset only), or None."""
  for part in relative_path.split('/')[:-1]:
    prefix = part.split('-')[0]
    if prefix in _LIBRISPEECH_SUBSETS and '-' in part:
      return _LIBRISPEECH_SUBSETS[prefix]
  return None


class AudioFolder(tfds.core.GeneratorBasedBuilder):
  """Speech with transcripts in a folder (e.g. `python -m launch.get_data asterisk_sounds`)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': RELEASE_1_0_0}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'A directory of audio files and one transcript source: {_HOW} '
      '(see research/data/builders/audio_folder.py).')

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'audio': tfds.features.Tensor(shape=(None,), dtype=np.int16),
            'sample_rate': tfds.features.Scalar(dtype=np.int32),
            'text': tfds.features.Text(),
            'audio/filename': tfds.features.Text(),
        }),
        disable_shuffling=True,  # in file order
    )

  def _split_generators(self, dl_manager):
    directory = os.fspath(dl_manager.manual_dir)
    try:
      files = all_files(directory)
      transcripts, given = read_transcripts(directory, files)
      check_present(directory, transcripts, files)
    except AudioFolderError as e:
      raise ValueError(str(e)) from e
    splits: dict[str, list[str]] = {}
    for audio in sorted(transcripts):
      split = given[audio] if given else (librispeech_split(audio)
                                          or caption_folder.hash_split(audio))
      splits.setdefault(split, []).append(audio)
    return {split: self._generate_examples(directory, names, transcripts)
            for split, names in splits.items()}

  def _generate_examples(self, directory, names, transcripts):
    for name in names:
      path = fileio.join(directory, name)
      samples, rate = read_audio(fileio.read_bytes(path), path)
      yield name, {'audio': samples, 'sample_rate': rate, 'text': transcripts[name],
                   'audio/filename': name}
