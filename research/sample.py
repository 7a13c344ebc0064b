"""Sampling text from a trained language model (`python -m launch.sample`).

`load_run` rebuilds the model of a workdir from its config.json and
vocab.json and restores the params of its latest checkpoint; `generate` feeds
a prompt through the network and then draws each next token from
softmax(logits / temperature), feeding it back in (temperature 0: the most
likely token). One compiled `lax.scan` produces the whole sample.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import errors, fileio
from research import workdir as workdir_lib
from research.data import lm_corpus, lm_feeding
from research.tasks import language_model


def load_run(workdir: str) -> tuple[ml_collections.ConfigDict, lm_corpus.Vocabulary, Any, Any]:
  """(config, vocabulary, model, params) of a language-model workdir."""
  what = 'a language-model run of launch.train'
  config = workdir_lib.read_config(workdir, what=what)
  vocab_path = fileio.join(workdir, lm_feeding.VOCAB_FILE)
  if not fileio.exists(vocab_path):
    raise errors.ConfigError(f'{vocab_path} not found: --workdir must be {what}.')
  if config.task != 'language_model':
    raise errors.ConfigError(f'{workdir!r} holds a {config.task!r} run, not a language model.')
  vocab = lm_corpus.Vocabulary.load(vocab_path)
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  model = language_model.MODELS[config.model.name](vocab_size=len(vocab), **kwargs)
  return config, vocab, model, workdir_lib.load_run(workdir).params


@functools.partial(jax.jit, static_argnames=('model', 'length'))
def generate(model, params, prompt_ids, rng, temperature, *, length: int) -> jax.Array:
  """`length` token ids following `prompt_ids` (1-D, at least one token)."""
  apply = functools.partial(model.apply, {'params': params}, train=False)
  logits_1xTxV, carry = apply(prompt_ids[None], model.initial_carry(1))

  def draw(key, logits_V):
    greedy = jnp.argmax(logits_V, -1)
    scaled = logits_V / jnp.maximum(temperature, 1e-6)
    return jnp.where(temperature > 0, jax.random.categorical(key, scaled), greedy)

  def step(state, key):
    logits_V, carry = state
    token = draw(key, logits_V).astype(jnp.int32)
    logits_1x1xV, carry = apply(token[None, None], carry)
    return (logits_1x1xV[0, -1], carry), token

  _, tokens = jax.lax.scan(step, (logits_1xTxV[0, -1], carry), jax.random.split(rng, length))
  return tokens


def encode_prompt(vocab: lm_corpus.Vocabulary, prompt: str) -> np.ndarray:
  tokens = lm_corpus.tokenize(prompt, vocab.level or 'char')
  if not tokens:
    raise errors.ConfigError('The prompt has no tokens; give at least one character/word.')
  return vocab.encode(tokens)


def detokenize(vocab: lm_corpus.Vocabulary, ids) -> str:
  tokens = vocab.decode(ids)
  if vocab.level == 'word':
    return ' '.join(tokens).replace(f' {lm_corpus.EOS} ', '\n').replace(lm_corpus.EOS, '\n')
  return ''.join(tokens)


def sample(workdir: str, *, prompt: str, length: int, temperature: float, seed: int) -> str:
  """The prompt followed by `length` sampled tokens, as text."""
  vocab, ids = sample_ids(workdir, prompt=prompt, length=length, temperature=temperature,
                          seed=seed)
  return detokenize(vocab, ids)


def sample_ids(workdir: str, *, prompt: str, length: int, temperature: float,
               seed: int) -> tuple[lm_corpus.Vocabulary, np.ndarray]:
  """(vocabulary, ids of the prompt followed by `length` sampled tokens)."""
  if length < 1:
    raise errors.ConfigError(f'length must be >= 1, got {length}.')
  if temperature < 0:
    raise errors.ConfigError(f'temperature must be >= 0, got {temperature}.')
  _, vocab, model, params = load_run(workdir)
  prompt_ids = encode_prompt(vocab, prompt)
  ids = generate(model, params, jnp.asarray(prompt_ids), jax.random.key(seed),
                 jnp.float32(temperature), length=length)
  return vocab, np.concatenate([prompt_ids, np.asarray(ids)])
