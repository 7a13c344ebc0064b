"""The pre-deep-learning recognisers of isolated words, fitted on the same
training speech and scored on the same test files as the networks of
research/tasks/spoken_words.py:

- `gmm`: one Gaussian mixture per word over its training frames' MFCCs
  (13 + deltas + delta-deltas, normalised per utterance), diagonal
  covariances; a test utterance goes to the word whose mixture gives its
  speech frames the highest mean log likelihood. The acoustic model of the
  GMM/HMM era without the HMM's states.
- `dtw`: template matching by dynamic time warping (Sakoe & Chiba 1978):
  `templates_per_word` training utterances per word; a test utterance goes
  to the word of the nearest template, distance = the cheapest monotonic
  alignment's summed Euclidean frame distances over the path-length bound
  (n + m).
- `pocketsphinx`: CMU PocketSphinx 5 (a real GMM/HMM recogniser of the era,
  its default US-English acoustic model and dictionary), restricted by a JSGF
  grammar to exactly the word list, given each test recording whole as read
  (it finds the speech itself; on our trimmed 1 s clips it scored 39% against
  47% on the files), upsampled from 8 to its 16 kHz by scipy's polyphase
  filter. It is not trained on our data.

Each writes results.json (test accuracy, per word list too) and
predictions_test.json like the networks.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from research import audio, config_lib, errors, writers
from research import workdir as workdir_lib
from research.data import speech
from research.tasks import base, spoken_words


def mfcc_sequences(split: speech.SpokenWords, sample_rate: int, batch_size: int = 256
                   ) -> list[np.ndarray]:
  """Per utterance: its speech frames' 39-d MFCCs (13, deltas, delta-deltas),
  mean- and variance-normalised over those frames."""
  config = audio.FeatureConfig(sample_rate=sample_rate)

  @jax.jit
  def features(waveform_BxN):
    x = waveform_BxN.astype(np.float32)
    c = audio.mfcc(x, config)
    d = audio.deltas(c)
    feats = jnp.concatenate([c, d, audio.deltas(d)], axis=-1)
    mask = audio.frame_energy_mask(x, config)
    return audio.normalise(feats, mask), mask

  out = []
  for start in range(0, len(split.labels_N), batch_size):
    feats, mask = jax.device_get(features(split.waveforms_NxS[start:start + batch_size]))
    out += [f[m > 0] for f, m in zip(feats, mask)]
  return out


def fit_gmm(train: list[np.ndarray], labels: np.ndarray, num_words: int, *, components: int,
            seed: int):
  from sklearn.mixture import GaussianMixture
  models = []
  for word in range(num_words):
    frames = np.concatenate([f for f, y in zip(train, labels) if y == word])
    models.append(GaussianMixture(components, covariance_type='diag', reg_covar=1e-3,
                                  max_iter=200, random_state=seed).fit(frames))
  return models


def gmm_predict(models, test: list[np.ndarray]) -> np.ndarray:
  scores = np.array([[m.score(f) for m in models] for f in test])  # mean log likelihood
  return scores.argmax(axis=1)


def dtw_distances(query_QxF: np.ndarray, templates: list[np.ndarray]) -> np.ndarray:
  """Normalised DTW distance from `query` to each template: all templates at
  once, one anti-diagonal of the alignment at a time (the cells of a
  diagonal depend only on the two before it)."""
  q = len(query_QxF)
  t_max = max(len(t) for t in templates)
  lengths = np.array([len(t) for t in templates])
  padded = np.zeros((len(templates), t_max, query_QxF.shape[1]), np.float32)
  for i, t in enumerate(templates):
    padded[i, :len(t)] = t
  cost_NxQxT = np.sqrt(((padded[:, None] - query_QxF[None, :, None]) ** 2).sum(-1))
  # Padding frames (beyond a template's length) never lie on a path read below.
  acc = np.full((len(templates), q + 1, t_max + 1), np.inf)
  acc[:, 0, 0] = 0.0
  for diagonal in range(2, q + t_max + 1):  # i + j, 1-based cell indices
    i = np.arange(max(1, diagonal - t_max), min(q, diagonal - 1) + 1)
    j = diagonal - i
    best = np.minimum(np.minimum(acc[:, i - 1, j - 1], acc[:, i - 1, j]), acc[:, i, j - 1])
    acc[:, i, j] = cost_NxQxT[:, i - 1, j - 1] + best
  return acc[np.arange(len(templates)), q, lengths] / (q + lengths)


def dtw_predict(templates: list[np.ndarray], template_labels: np.ndarray,
                test: list[np.ndarray]) -> np.ndarray:
  return np.array([template_labels[np.argmin(dtw_distances(f, templates))] for f in test])


def choose_templates(labels: np.ndarray, per_word: int, seed: int) -> np.ndarray:
  """`per_word` training utterances of each word (all it has when fewer),
  drawn by the seed."""
  rng = np.random.default_rng(seed)
  chosen = [rng.permutation(np.flatnonzero(labels == w))[:per_word] for w in np.unique(labels)]
  return np.sort(np.concatenate(chosen))


def pocketsphinx_decoder():
  """A PocketSphinx decoder at 16 kHz with its default US-English models."""
  try:
    from pocketsphinx import Decoder
  except ImportError as e:
    raise errors.ConfigError(
        "The pocketsphinx baseline needs PocketSphinx: pip install 'classicnets[speech]'."
    ) from e
  return Decoder(samprate=16000, loglevel='FATAL')


def pocketsphinx_hypothesis(decoder, recording: np.ndarray, sample_rate: int) -> str:
  """The decoder's text for one whole recording, upsampled to its 16 kHz by
  scipy's polyphase filter ('' when it recognises nothing)."""
  import scipy.signal
  up = scipy.signal.resample_poly(recording.astype(np.float64), 16000, sample_rate)
  pcm = np.clip(np.round(up), -32768, 32767).astype(np.int16)
  decoder.start_utt()
  decoder.process_raw(pcm.tobytes(), full_utt=True)
  decoder.end_utt()
  hyp = decoder.hyp()
  return hyp.hypstr.strip() if hyp else ''


def pocketsphinx_predict(test: speech.SpokenWords, words: list[str], sample_rate: int
                         ) -> np.ndarray:
  """PocketSphinx's word for each test recording under a grammar of exactly
  `words` (-1 when it recognises nothing)."""
  decoder = pocketsphinx_decoder()
  # Letters are said as their names; PocketSphinx's dictionary spells them
  # as the letters themselves, and every other word as written.
  grammar = ('#JSGF V1.0;\ngrammar words;\npublic <word> = '
             + ' | '.join(words) + ' ;\n')
  decoder.add_jsgf_string('words', grammar)
  decoder.activate_search('words')
  index = {w: i for i, w in enumerate(words)}
  return np.array([index.get(pocketsphinx_hypothesis(decoder, r, sample_rate), -1)
                   for r in test.originals])


def fit_and_evaluate(config, workdir: str) -> dict[str, Any]:
  check_config(config)
  words = spoken_words.word_list(config)
  splits = spoken_words.load_splits(config)
  workdir_lib.prepare(workdir, config)
  train, test = splits['train'], splits['test']
  rate = config.audio.sample_rate
  t0 = time.perf_counter()
  name = config.model.name
  if name == 'pocketsphinx':
    predicted = pocketsphinx_predict(test, words, rate)
  else:
    train_feats, test_feats = mfcc_sequences(train, rate), mfcc_sequences(test, rate)
    if name == 'gmm':
      models = fit_gmm(train_feats, train.labels_N, len(words),
                       components=config.model.components, seed=config.seed)
      predicted = gmm_predict(models, test_feats)
    else:
      chosen = choose_templates(train.labels_N, config.model.templates_per_word, config.seed)
      predicted = dtw_predict([train_feats[i] for i in chosen], train.labels_N[chosen],
                              test_feats)
  seconds = time.perf_counter() - t0
  results = {'test_accuracy': float(np.mean(predicted == test.labels_N)),
             'test_examples': len(test.labels_N), 'steps': 0, 'train_seconds': seconds,
             'num_params': 0, 'num_devices': 0, 'dataset': config.dataset.name, 'model': name}
  results |= spoken_words.write_predictions(workdir, words, test, predicted)
  workdir_lib.write_results(workdir, results)
  writers.log(f'{name}: ' + writers.format_scalars(
      {k: v for k, v in results.items() if k.startswith('test_')}))
  return results


MODELS = {'gmm': None, 'dtw': None, 'pocketsphinx': None}


def check_config(config) -> None:
  config_lib.check_choice('model', config.model.name, MODELS)
  spoken_words.check_config(config)


TASK = base.FittedTask(name='spoken_word_baseline', models=MODELS, check_config=check_config,
                       fit_and_evaluate=fit_and_evaluate)
