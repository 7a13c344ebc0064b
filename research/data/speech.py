"""Spoken words for the isolated-word recognisers: the utterances of an
audio_folder dataset whose transcript is one of a word list, as fixed-length
waveforms with class labels.

Each utterance is trimmed to its speech (frames within 40 dB of its loudest)
and centred in a clip of `clip_samples` (longer speech keeps its middle), so
every recogniser sees the word in the same place whichever corpus it came
from: the synthetic training speech starts at once, the real recordings
after some silence.

Sample rates are not converted: a file at another rate than the config's
stops the load with its name and the two rates (resample the folder, e.g.
`sox in.wav -r 8000 out.wav`, or set `config.audio.sample_rate`), because a
silent resampler would change what the features measure.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import numpy as np

from research import errors
from research.data import captions

TRIM_BELOW_PEAK_DB = 40.0
_TRIM_FRAME_MS = 10


def normalise_text(text: str) -> str:
  """Lower case, punctuation dropped, words separated by one space (the
  captions' tokenisation)."""
  return ' '.join(captions.tokenize(text))


def speech_span(waveform: np.ndarray, sample_rate: int) -> tuple[int, int]:
  """[start, end) samples of the frames within TRIM_BELOW_PEAK_DB of the
  loudest 10 ms frame (the whole waveform when it is silent)."""
  hop = max(1, sample_rate * _TRIM_FRAME_MS // 1000)
  n = len(waveform) // hop
  if n == 0:
    return 0, len(waveform)
  energy = np.sum(waveform[:n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-10
  db = 10 * np.log10(energy)
  if db.max() <= -90:  # all zeros
    return 0, len(waveform)
  loud = np.flatnonzero(db >= db.max() - TRIM_BELOW_PEAK_DB)
  return int(loud[0] * hop), int(min(len(waveform), (loud[-1] + 1) * hop))


def centred_clip(waveform: np.ndarray, sample_rate: int, clip_samples: int) -> np.ndarray:
  """The speech of `waveform` centred in `clip_samples` zeros (int16)."""
  start, end = speech_span(waveform, sample_rate)
  speech = waveform[start:end]
  if len(speech) > clip_samples:
    cut = (len(speech) - clip_samples) // 2
    speech = speech[cut:cut + clip_samples]
  out = np.zeros(clip_samples, np.int16)
  offset = (clip_samples - len(speech)) // 2
  out[offset:offset + len(speech)] = speech
  return out


def check_rate(name: str, rate: int, sample_rate: int, where: str) -> None:
  """Refuses a file at another rate than the config's, naming both and the fix."""
  if int(rate) != sample_rate:
    raise errors.DataError(
        f'{where}: {name} is sampled at {int(rate)} Hz, the config expects {sample_rate} Hz '
        '(config.audio.sample_rate). Resample the folder (e.g. `sox IN.wav -r '
        f'{sample_rate} OUT.wav`) or change the config; files are not resampled on the fly.')


@dataclasses.dataclass
class SpokenWords:
  waveforms_NxS: np.ndarray  # int16, centred clips
  labels_N: np.ndarray       # int32 index into the word list
  filenames: list[str]
  skipped: int               # utterances whose transcript is not one of the words
  # The recordings as read (int16, untrimmed): for a recogniser that does its
  # own endpointing (PocketSphinx), as it would be run on the files.
  originals: list[np.ndarray] = dataclasses.field(default_factory=list)


def select_words(filenames: Sequence[str], texts: Sequence[str], waveforms: Sequence[np.ndarray],
                 sample_rates: Sequence[int], words: Sequence[str], *, sample_rate: int,
                 clip_samples: int, where: str) -> SpokenWords:
  """The utterances whose normalised transcript is one of `words`."""
  index = {w: i for i, w in enumerate(words)}
  clips, labels, names, originals, skipped = [], [], [], [], 0
  for name, text, wave, rate in zip(filenames, texts, waveforms, sample_rates):
    word = normalise_text(text)
    if word not in index:
      skipped += 1
      continue
    check_rate(name, rate, sample_rate, where)
    originals.append(np.asarray(wave, np.int16))
    clips.append(centred_clip(originals[-1], sample_rate, clip_samples))
    labels.append(index[word])
    names.append(name)
  if not clips:
    raise errors.DataError(
        f'{where}: no utterance says one of the {len(words)} words ({", ".join(words[:6])}'
        f'{", ..." if len(words) > 6 else ""}); check the word lists and the transcripts.')
  return SpokenWords(np.stack(clips), np.asarray(labels, np.int32), names, skipped, originals)


def load_words(dataset_config, split: str, words: Sequence[str], *, sample_rate: int,
               clip_samples: int) -> SpokenWords:
  """A prepared audio dataset's `split`, restricted to `words`."""
  names, texts, waves, rates = _read_split(dataset_config, split)
  where = f'{dataset_config.name} {dataset_config.manual_dir or ""} [{split}]'.replace('  ', ' ')
  return select_words(names, texts, waves, rates, words, sample_rate=sample_rate,
                      clip_samples=clip_samples, where=where)


def _read_split(dataset_config, split: str):
  """(filenames, transcripts, waveforms, sample rates) of a prepared split."""
  from research.data import datasets
  builder = datasets.prepare(dataset_config)
  if builder.info.splits and split not in builder.info.splits:
    raise errors.ConfigError(
        f'Dataset {dataset_config.name!r} in {dataset_config.manual_dir} has no split '
        f'{split!r}; it has {", ".join(builder.info.splits)}.')
  features = builder.info.features
  # TFDS's speech_commands: a class label, not a transcript, and one rate.
  labels = features['label'].names if 'text' not in features else None
  names, texts, waves, rates = [], [], [], []
  for i, example in enumerate(datasets.examples(builder, split)):
    if labels is None:
      names.append(_text(example['audio/filename']))
      texts.append(_text(example['text']))
      rates.append(int(example['sample_rate']))
    else:
      names.append(f'{split}/{i}')
      texts.append(labels[int(example['label'])])
      rates.append(int(features['audio'].sample_rate))
    waves.append(np.asarray(example['audio']))
  return names, texts, waves, rates


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


# --- Phrases and sentences (the CTC recogniser) --------------------------------

DIGIT_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
_SAYABLE = re.compile(r"[a-z]+(?:'[a-z]+)*")


def spoken_transcript(text: str) -> str | None:
  """The transcript as a character recogniser can write it: normalised, a lone
  digit written as its word ("press 1" is said "press one"); None when a
  token stays ambiguous to spell (a longer number: "1234" may be said "one
  two three four" or "twelve thirty-four"; "3d")."""
  words = [DIGIT_WORDS[int(w)] if len(w) == 1 and w.isdigit() else w
           for w in normalise_text(text).split()]
  if not words or not all(_SAYABLE.fullmatch(w) for w in words):
    return None
  return ' '.join(words)


@dataclasses.dataclass
class Sentences:
  waveforms: list[np.ndarray]  # int16, as read, each its own length
  texts: list[str]             # spoken_transcript of each
  filenames: list[str]
  # Left out, with why: {'filename': reason}.
  skipped: dict[str, str] = dataclasses.field(default_factory=dict)


def select_sentences(filenames: Sequence[str], texts: Sequence[str],
                     waveforms: Sequence[np.ndarray], sample_rates: Sequence[int], *,
                     sample_rate: int, exclude_folders: Sequence[str], where: str) -> Sentences:
  """The utterances outside `exclude_folders` (top-level folders of the
  dataset's files, e.g. Asterisk's digits/ and letters/) whose transcript a
  character recogniser can write."""
  out = Sentences([], [], [])
  for name, text, wave, rate in zip(filenames, texts, waveforms, sample_rates):
    if '/' in name and name.split('/', 1)[0] in exclude_folders:
      continue
    spoken = spoken_transcript(text)
    if spoken is None:
      out.skipped[name] = f'transcript {text!r} has a number or symbol with no one spelling'
      continue
    check_rate(name, rate, sample_rate, where)
    out.waveforms.append(np.asarray(wave, np.int16))
    out.texts.append(spoken)
    out.filenames.append(name)
  if not out.texts:
    raise errors.DataError(f'{where}: no utterance with a transcript to learn or score '
                           f'({len(out.skipped)} left out, {len(filenames)} in all).')
  return out


def load_sentences(dataset_config, split: str, *, sample_rate: int,
                   exclude_folders: Sequence[str] = ()) -> Sentences:
  """A prepared audio dataset's `split` as whole utterances with transcripts."""
  names, texts, waves, rates = _read_split(dataset_config, split)
  where = f'{dataset_config.name} {dataset_config.manual_dir or ""} [{split}]'.replace('  ', ' ')
  return select_sentences(names, texts, waves, rates, sample_rate=sample_rate,
                          exclude_folders=exclude_folders, where=where)
