"""Count-based language models as an experiment: the n-gram baselines of the
`lm_vs_ngram` table, fitted and scored on exactly the tokens, vocabulary and
evaluation positions of the neural language models.

Same data path as `research.tasks.language_model` (`lm_feeding.load`: the
training split's vocabulary, `<unk>` for unseen tokens), the same scored
positions (every token of a split after its first, the first given as
history), and the same metric names in `results.json`
(`{validation,test}_{loss,perplexity,bits_per_token}`), so a results table
reads both kinds of rows alike. Fitting is deterministic: the seed is unused.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from research import config_lib, errors, kneser_ney, writers
from research import workdir as workdir_lib
from research.data import DATASETS, lm_corpus, lm_feeding
from research.tasks import base

MODELS = {'kneser_ney': kneser_ney.KneserNeyLM}


def check_config(config) -> None:
  config_lib.check_choice('dataset', config.dataset.name, DATASETS)
  config_lib.check_choice('model', config.model.name, MODELS)
  config_lib.check_choice('text level', config.text.level, dict.fromkeys(lm_corpus.LEVELS))
  if config.model.order < 1:
    raise errors.ConfigError(f'model.order must be >= 1, got {config.model.order}.')


def score(lm: kneser_ney.KneserNeyLM, ids: np.ndarray) -> dict[str, float]:
  """Sums over ids[1:] given everything before (the neural models' positions)."""
  log_probs = lm.log_probs(ids[1:], history=ids[:1])
  return {'loss_sum': float(-log_probs.sum()), 'count': float(len(log_probs))}


def summarize(sums: dict[str, float], prefix: str) -> dict[str, float]:
  loss = sums['loss_sum'] / sums['count']
  return {
      f'{prefix}_loss': loss,
      f'{prefix}_perplexity': math.exp(loss),
      f'{prefix}_bits_per_token': loss / math.log(2.0),
      f'{prefix}_tokens': sums['count'],
  }


def fit_and_evaluate(config, workdir: str) -> dict[str, Any]:
  """Fits the n-gram model on the training split and scores the others.

  Writes config.json, vocab.json (checked on a rerun, like a neural run's) and
  results.json; refitting is cheap, so a rerun recomputes rather than resumes.
  """
  check_config(config)
  data = lm_feeding.load(config)
  workdir_lib.prepare(workdir, config)
  lm_feeding.sync_vocabulary(workdir, data.vocab)
  t0 = time.perf_counter()
  lm = MODELS[config.model.name](config.model.order, len(data.vocab)).fit(data.ids['train'])
  train_seconds = time.perf_counter() - t0
  results: dict[str, Any] = {}
  for split in lm_feeding.TokenStreamFeeder.eval_splits:
    results.update(summarize(score(lm, data.ids[split]), split))
  results.update(
      steps=0, train_seconds=train_seconds, num_devices=0,
      num_params=lm.num_ngrams,
      dataset=config.dataset.name, model=f'{config.model.name}_{config.model.order}')
  workdir_lib.write_results(workdir, results)
  writers.log(f'{config.model.name} order {config.model.order}: ' + ', '.join(
      f'{k} {v:.4f}' for k, v in results.items() if k.endswith('bits_per_token')))
  return results


TASK = base.FittedTask(name='ngram', models=MODELS, check_config=check_config,
                       fit_and_evaluate=fit_and_evaluate)
