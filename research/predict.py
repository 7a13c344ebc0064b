"""Predictions of a trained text classifier (`python -m launch.predict`).

`load_classifier` rebuilds a text-classification workdir's model from its
config.json, tokenizer.json (the vocabulary fitted on its train split) and
labels.json, and restores the params of its latest checkpoint; `predict`
tokenizes texts exactly as training did and returns class probabilities.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np

from research import errors
from research import workdir as workdir_lib
from research.data import textcls_feeding
from research.models import MODELS, TEXT_MODELS


@dataclasses.dataclass
class TextClassifier:
  config: ml_collections.ConfigDict
  model: Any
  params: Any
  tokenizer: Any
  class_names: list[str]
  step: int

  def __post_init__(self):
    # Compiled once per classifier: every row has the tokenizer's fixed length.
    self.logits_fn = jax.jit(functools.partial(self.model.apply, train=False))


def load_classifier(workdir: str) -> TextClassifier:
  config = workdir_lib.read_config(workdir)
  if config.task != 'classification' or config.model.name not in TEXT_MODELS:
    raise errors.ConfigError(
        f'{workdir!r} holds a {config.task!r} run of model {config.model.name!r}, not a text '
        f'classifier ({sorted(TEXT_MODELS)}).')
  tokenizer = textcls_feeding.load_tokenizer(workdir)
  names = textcls_feeding.load_class_names(workdir)
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  model = MODELS[config.model.name](
      num_classes=len(names), vocab_size=tokenizer.get_vocab_size(), **kwargs)
  run = workdir_lib.load_run(workdir)
  return TextClassifier(config, model, run.params, tokenizer, names, run.step)


def predict(classifier: TextClassifier, texts: Sequence[str]) -> np.ndarray:
  """N x K class probabilities."""
  for i, t in enumerate(texts):
    if not t.strip():
      raise errors.ConfigError(f'Text {i} is empty; give the classifier some words.')
  ids = textcls_feeding.encode(classifier.tokenizer, texts)
  logits = classifier.logits_fn({'params': classifier.params}, ids)
  return np.asarray(jax.nn.softmax(logits, axis=-1))


def describe(classifier: TextClassifier, text: str, top: int = 5) -> str:
  """The predicted class and the `top` most probable classes of one text."""
  probs = predict(classifier, [text])[0]
  order = np.argsort(-probs)[:top]
  words = textcls_feeding.tokens_of(classifier.tokenizer, text)
  lines = [f'{classifier.class_names[order[0]]}',
           f'  words read ({len(words)}): {" ".join(words)}']
  lines += [f'  {probs[k]:6.1%}  {classifier.class_names[k]}' for k in order]
  return '\n'.join(lines)
