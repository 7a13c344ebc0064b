"""Transcribing any audio file with a trained CTC recogniser's workdir
(`python -m launch.transcribe`; research/tasks/transcription.py trains it).

A file is read as the audio_folder builder reads one (WAV, FLAC, OGG...;
mono; to int16) and must be at the run's `audio.sample_rate`: like the
training data, it is refused otherwise, naming the conversion, because a
silent resampler would change what the features measure. The recording then
goes through the run's model whole, decoded by best path and by prefix beam
search (the run's decode settings).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from research import errors, fileio
from research import workdir as workdir_lib
from research.data.builders import audio_folder
from research.models.speech import CTCRecogniser
from research.tasks import transcription


@dataclasses.dataclass
class Transcriber:
  config: object
  model: CTCRecogniser
  params: object
  step: int


def load_transcriber(workdir: str) -> Transcriber:
  run = workdir_lib.load_run(workdir, tasks=('transcription',),
                             what='a trained CTC recogniser')
  kwargs = {k: v for k, v in run.config.model.items() if k != 'name'}
  model = CTCRecogniser(vocab_size=transcription.VOCAB_SIZE,
                        sample_rate=run.config.audio.sample_rate, **kwargs)
  return Transcriber(run.config, model, run.params, run.step)


def read_recording(path: str, sample_rate: int) -> np.ndarray:
  """The file's int16 samples; a clear DataError for a missing file, a file
  that is not audio, or another sample rate."""
  if not fileio.isfile(path):
    raise errors.DataNotFoundError(f'{path} does not exist.')
  try:
    samples, rate = audio_folder.read_audio(fileio.read_bytes(path), path)
  except audio_folder.AudioFolderError as e:
    raise errors.DataError(str(e)) from None
  if rate != sample_rate:
    raise errors.DataError(
        f'{path} is sampled at {rate} Hz; the model was trained at {sample_rate} Hz. '
        f'Resample it first (e.g. `sox {path} -r {sample_rate} OUT.wav`); files are not '
        'resampled on the fly.')
  return samples


def transcribe_files(transcriber: Transcriber, paths: list[str], *,
                     beam_size: int | None = None) -> dict[str, list[str]]:
  """{'greedy': [...], 'beam': [...]}: each file's text, in order."""
  config = transcriber.config
  waves = [read_recording(p, config.audio.sample_rate) for p in paths]
  return transcription.transcribe(transcriber.model, transcriber.params, waves,
                                  config.audio.sample_rate,
                                  beam_size=beam_size or config.decode.beam_size,
                                  prune_below=config.decode.prune_below)
