"""PocketSphinx on the sentence recogniser's test recordings: CMU PocketSphinx
5 (a GMM/HMM recogniser of the era deep nets overtook) with its default
US-English acoustic model, dictionary and trigram language model, not trained
on our data, given each test recording whole (upsampled from 8 to its 16 kHz
by scipy's polyphase filter, as research/tasks/word_baselines.py does), and
scored on exactly the files and transcripts the CTC recogniser is
(research/tasks/transcription.py): its words lower-cased, a lone digit as its
word.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from research import config_lib, fileio, writers
from research import workdir as workdir_lib
from research.data import speech
from research.tasks import base, transcription, word_baselines


def pocketsphinx_transcribe(waveforms: Sequence[np.ndarray], sample_rate: int) -> list[str]:
  """PocketSphinx's text for each recording (its default language model),
  written as the references are (research/data/speech.py spoken_transcript)."""
  decoder = word_baselines.pocketsphinx_decoder()
  return [speech.spoken_transcript(word_baselines.pocketsphinx_hypothesis(
      decoder, recording, sample_rate)) or '' for recording in waveforms]


def fit_and_evaluate(config, workdir: str) -> dict[str, Any]:
  check_config(config)
  test = speech.load_sentences(config.test_dataset, config.test_dataset.eval_split,
                               sample_rate=config.audio.sample_rate,
                               exclude_folders=tuple(config.test_exclude_folders))
  workdir_lib.prepare(workdir, config)
  t0 = time.perf_counter()
  hypotheses = pocketsphinx_transcribe(test.waveforms, config.audio.sample_rate)
  seconds = time.perf_counter() - t0
  results = {**transcription.score(test.texts, {'': hypotheses}, 'test'),
             'test_recordings': len(test.texts), 'test_left_out': len(test.skipped),
             'steps': 0, 'train_seconds': seconds, 'num_params': 0, 'num_devices': 0,
             'dataset': config.test_dataset.name, 'model': config.model.name}
  fileio.write_json(fileio.join(workdir, transcription.PREDICTIONS_FILE), [
      {'audio': f, 'reference': r, 'pocketsphinx': h}
      for f, r, h in zip(test.filenames, test.texts, hypotheses)])
  workdir_lib.write_results(workdir, results)
  writers.log('pocketsphinx: ' + writers.format_scalars(
      {k: v for k, v in results.items() if k.startswith('test_')}))
  return results


MODELS = {'pocketsphinx': None}


def check_config(config) -> None:
  config_lib.check_choice('model', config.model.name, MODELS)
  config_lib.check_choice('test_dataset', config.test_dataset.name,
                          transcription.SPEECH_DATASETS)


TASK = base.FittedTask(name='transcription_baseline', models=MODELS, check_config=check_config,
                       fit_and_evaluate=fit_and_evaluate)
