"""Captioning baselines that keep captioning results honest, fitted in
closed form and scored like the trained model (research/tasks/captioning.py):

- `most_frequent`: every test image gets the training set's most frequent
  caption (after tokenisation). Metrics reward common words; this is what
  they give for knowing nothing about the image.
- `nearest_neighbour` (Devlin et al. 2015, "Language Models for Image
  Captioning: The Quirks and What Works" / "Exploring Nearest Neighbor
  Approaches for Image Captioning"): the `k` training images whose encoder
  features are closest (cosine) to the test image's; of their captions, the
  one with the highest mean BLEU against the others (the consensus caption).
  With k = 1, the nearest image's first caption.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np

from research import caption_metrics, config_lib, errors, fileio, writers
from research import workdir as workdir_lib
from research.data import captions
from research.tasks import base
from research.tasks.captioning import CAPTIONS_FILE, ENCODERS, encoder_features

MODELS = {'most_frequent': None, 'nearest_neighbour': None}


def check_config(config) -> None:
  config_lib.check_choice('model', config.model.name, MODELS)
  config_lib.check_choice('encoder', config.encoder.name, ENCODERS)
  caption_metrics.check_available(config.caption_metrics)
  if config.model.name == 'nearest_neighbour' and not (
      isinstance(config.model.k, int) and config.model.k >= 1):
    raise errors.ConfigError(f'model.k={config.model.k!r}: give a positive integer.')


def most_frequent(train_captions: list[list[str]]) -> str:
  """The most frequent training caption, as words (ties: the first seen)."""
  counts = collections.Counter(' '.join(captions.tokenize(c))
                               for image in train_captions for c in image)
  return max(counts, key=lambda c: (counts[c], -list(counts).index(c)))


def consensus(candidates: list[str]) -> str:
  """The candidate with the highest mean sentence BLEU against the others."""
  import sacrebleu
  if len(candidates) == 1:
    return candidates[0]
  def mean_bleu(i):
    others = [c for j, c in enumerate(candidates) if j != i]
    return np.mean([sacrebleu.sentence_bleu(candidates[i], [o], tokenize='none').score
                    for o in others])
  return candidates[max(range(len(candidates)), key=lambda i: (mean_bleu(i), -i))]


def nearest_neighbour(train_features: np.ndarray, train_captions: list[list[str]],
                      test_features: np.ndarray, k: int) -> list[str]:
  unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  similarity = unit(test_features) @ unit(train_features).T
  out = []
  for row in similarity:
    nearest = np.argsort(-row, kind='stable')[:k]
    pool = [' '.join(captions.tokenize(c)) for i in nearest for c in train_captions[i]]
    out.append(consensus(pool if k > 1 else pool[:1]))
  return out


def fit_and_evaluate(config, workdir: str) -> dict[str, Any]:
  check_config(config)
  ds = config.dataset
  train = captions.load_split(ds, ds.train_split)
  test = captions.load_split(ds, ds.eval_split)
  workdir_lib.prepare(workdir, config)
  t0 = time.perf_counter()
  if config.model.name == 'most_frequent':
    generated = [most_frequent(train.captions)] * len(test.filenames)
  else:
    features = encoder_features(config.encoder, [train.images_NxHxWx3, test.images_NxHxWx3],
                                config.seed)
    generated = nearest_neighbour(features[0], train.captions, features[1], config.model.k)
  seconds = time.perf_counter() - t0
  keys = [str(i) for i in range(len(test.filenames))]
  scores = caption_metrics.score(dict(zip(keys, test.captions)), dict(zip(keys, generated)),
                                 names=config.caption_metrics)
  results = {f'test_{k}': v for k, v in scores.items()} | dict(
      test_distinct_captions=len(set(generated)), test_images=len(keys), steps=0,
      train_seconds=seconds, num_params=0, num_devices=0, dataset=ds.name,
      model=config.model.name)
  fileio.write_json(fileio.join(workdir, CAPTIONS_FILE), [
      {'image': name, 'generated': text, 'references': refs}
      for name, text, refs in zip(test.filenames, generated, test.captions)])
  workdir_lib.write_results(workdir, results)
  writers.log(f'{config.model.name}: ' + writers.format_scalars(
      {k: v for k, v in results.items() if k.startswith('test_')}))
  return results


TASK = base.FittedTask(name='caption_baseline', models=MODELS, check_config=check_config,
                       fit_and_evaluate=fit_and_evaluate)
