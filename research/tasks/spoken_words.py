"""Isolated-word speech recognition: a waveform in, one of a word list out.

Training speech comes from `config.dataset` (by default the synthetic set of
research/data/speech_synth.py: espeak-ng and flite voices), validated on its
held-out utterances; the test set is `config.test_dataset`, real recordings
(by default Asterisk's prompts, one professional speaker, never seen in
training or tuning). Every split is restricted to the utterances whose
transcript is one of the words (`config.words`: names of word lists), cut to
`config.audio.clip_seconds` around the speech (research/data/speech.py) and
kept on the device as int16; the model computes its own log-mel features
(research/audio.py), so a step is one compiled function from waveforms to
the update.

Training augmentation (the `augment` stream): each clip is shifted by up to
`config.augment.max_shift_ms` and scaled by up to +-`config.augment.gain_db`,
so the models do not learn where in the clip, or how loud, a word is.
After training, WORKDIR/predictions_test.json lists every test file with its
word and the model's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from research import config_lib, errors, fileio, parallel, writers
from research.data import feeding, speech, speech_synth
from research.data.registry import DATASETS
from research.models.speech import FrameStackMLP, SpeechCNN
from research.plots import curves
from research.plots import speech as speech_pictures
from research.tasks import base, classification

PREDICTIONS_FILE = 'predictions_test.json'
MODELS = {'frame_mlp': FrameStackMLP, 'cnn': SpeechCNN}


def word_list(config) -> list[str]:
  """The classes: the named word lists' words, in order, each once."""
  return speech_synth.words_of(config.words)


def clip_samples(config) -> int:
  return int(round(config.audio.clip_seconds * config.audio.sample_rate))


def load_splits(config) -> dict[str, speech.SpokenWords]:
  """'train' and 'validation' from config.dataset, 'test' from config.test_dataset."""
  words, kwargs = word_list(config), dict(sample_rate=config.audio.sample_rate,
                                          clip_samples=clip_samples(config))
  ds, test = config.dataset, config.test_dataset
  return {'train': speech.load_words(ds, ds.train_split, words, **kwargs),
          'validation': speech.load_words(ds, ds.eval_split, words, **kwargs),
          'test': speech.load_words(test, test.eval_split, words, **kwargs)}


class WordFeeder(feeding.RowFeeder):
  """Clips and labels on every device; a step gathers rows by index."""

  def __init__(self, config, mesh):
    self.mesh = mesh
    self.words = word_list(config)
    self.splits = load_splits(config)
    for name, split in self.splits.items():
      writers.log(f'spoken words [{name}]: {len(split.labels_N):,} utterances of '
                  f'{len(np.unique(split.labels_N))} of the {len(self.words)} words '
                  f'({split.skipped:,} others skipped).')
    self.eval_splits = ('validation', 'test')
    self.order = feeding.TrainOrder(len(self.splits['train'].labels_N), config.batch_size,
                                    config.seed)
    self.eval_batch_size = config.eval_batch_size
    self.clip_samples = clip_samples(config)
    self.sample_rate = config.audio.sample_rate
    self.split_sizes = {name: len(s.labels_N) for name, s in self.splits.items()}
    self.data = {name: {'audio': parallel.replicate(s.waveforms_NxS, mesh),
                        'label': parallel.replicate(s.labels_N, mesh)}
                 for name, s in self.splits.items()}

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'num_classes': len(self.words), 'sample_rate': self.sample_rate}


def make_feeder(config, mesh) -> WordFeeder:
  return WordFeeder(config, mesh)


def init_variables(model, feeder: WordFeeder):
  def init(rng):
    clip = jnp.zeros((1, feeder.clip_samples), jnp.int16)
    variables = model.init({'params': rng, 'dropout': rng}, clip)
    return variables['params'], {k: v for k, v in variables.items() if k != 'params'}
  return init


def augment(audio_BxS: jax.Array, rng: jax.Array, config) -> jax.Array:
  """A random shift (zeros shifted in: the clips are padded with silence)
  and gain per clip."""
  b, s = audio_BxS.shape
  max_shift = int(config.audio.sample_rate * config.augment.max_shift_ms / 1000)
  shift_rng, gain_rng = jax.random.split(rng)
  shift_B = jax.random.randint(shift_rng, (b,), -max_shift, max_shift + 1)
  index_BxS = jnp.arange(s)[None, :] - shift_B[:, None]
  inside = (index_BxS >= 0) & (index_BxS < s)
  shifted = jnp.take_along_axis(audio_BxS.astype(jnp.float32), jnp.clip(index_BxS, 0, s - 1),
                                axis=1) * inside
  gain_db = jax.random.uniform(gain_rng, (b, 1), minval=-config.augment.gain_db,
                               maxval=config.augment.gain_db)
  return shifted * 10.0 ** (gain_db / 20.0)


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  """Mean cross-entropy of the word."""
  del constants, step
  audio = augment(batch['audio'], rngs['augment'], config)
  logits_BxK, model_state = classification.apply_model(model, params, model_state, audio,
                                                       train=True, rng=rngs['dropout'])
  value = optax.softmax_cross_entropy_with_integer_labels(logits_BxK, batch['label']).mean()
  accuracy = jnp.mean(jnp.argmax(logits_BxK, -1) == batch['label'])
  return value, (model_state, {'accuracy': accuracy})


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  del constants, config
  logits_BxK, _ = classification.apply_model(model, params, model_state, batch['audio'],
                                             train=False)
  loss_B = optax.softmax_cross_entropy_with_integer_labels(logits_BxK, batch['label'])
  weights = batch['mask'].astype(jnp.float32)
  return {'loss_sum': jnp.sum(loss_B * weights),
          'correct_sum': jnp.sum((jnp.argmax(logits_BxK, -1) == batch['label']) * weights),
          'count': jnp.sum(weights)}, carry


def predict(model, params, model_state, waveforms_NxS: np.ndarray, batch_size: int = 64
            ) -> np.ndarray:
  """The word index of each clip (one compiled shape: the last batch padded)."""
  run = jax.jit(lambda p, x: jnp.argmax(
      model.apply({'params': p, **model_state}, x, train=False), -1))
  out = []
  for start in range(0, len(waveforms_NxS), batch_size):
    chunk = waveforms_NxS[start:start + batch_size]
    padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), chunk.shape[1]),
                                             chunk.dtype)])
    out.append(np.asarray(run(params, padded))[:len(chunk)])
  return np.concatenate(out)


def write_predictions(workdir: str, words: list[str], split: speech.SpokenWords,
                      predicted_N: np.ndarray) -> dict[str, Any]:
  """WORKDIR/predictions_test.json, and the test accuracy per word list
  (a prediction of -1, nothing recognised, is wrong and written as null)."""
  if jax.process_index() == 0:
    fileio.write_json(fileio.join(workdir, PREDICTIONS_FILE), [
        {'audio': name, 'word': words[truth], 'predicted': words[guess] if guess >= 0 else None}
        for name, truth, guess in zip(split.filenames, split.labels_N, predicted_N)])
  results = {}
  for list_name, list_words in speech_synth.WORD_LISTS.items():
    members = np.isin(split.labels_N, [words.index(w) for w in list_words if w in words])
    if members.any():
      results[f'test_{list_name}_accuracy'] = float(
          np.mean(predicted_N[members] == split.labels_N[members]))
  return results


def final_results(workdir, config, model, state, feeder: WordFeeder) -> dict[str, Any]:
  del config
  test = feeder.splits['test']
  predicted = predict(model, jax.device_get(state.params), jax.device_get(state.model_state),
                      test.waveforms_NxS)
  return write_predictions(workdir, feeder.words, test, predicted)


def plot_run(workdir, config, model, state, feeder: WordFeeder) -> list[str]:
  """Accuracy against steps (training batches, synthetic validation, real
  test), and spectrograms of 4 test recordings (evenly spaced in the test
  split) beside 3 synthetic training utterances of the same word."""
  del model, state
  paths = [curves.plot_metric_curves(workdir, 'accuracy', ('validation', 'test'),
                                     'word accuracy (validation: synthetic, test: real)')]
  predicted = {p['audio']: p['predicted']
               for p in fileio.read_json(fileio.join(workdir, PREDICTIONS_FILE))}
  test, train = feeder.splits['test'], feeder.splits['train']
  shown = np.linspace(0, len(test.labels_N) - 1, 4).round().astype(int)
  synthetic = []
  for i in shown:
    same = np.flatnonzero(train.labels_N == test.labels_N[i])[:3]
    synthetic.append(train.waveforms_NxS[np.resize(same, 3)] if len(same) else
                     np.zeros((3, train.waveforms_NxS.shape[1]), np.int16))
  paths.append(speech_pictures.plot_real_and_synthetic(
      test.waveforms_NxS[shown], np.stack(synthetic),
      [feeder.words[test.labels_N[i]] for i in shown],
      [predicted.get(test.filenames[i]) for i in shown],
      fileio.join(workdir, 'spectrograms.png'), config.audio.sample_rate))
  return paths


def check_config(config) -> None:
  unknown = [w for w in config.words if w not in speech_synth.WORD_LISTS]
  if unknown or not config.words:
    raise errors.ConfigError(
        f'words={tuple(config.words)!r}: give names of word lists, from '
        f'{", ".join(speech_synth.WORD_LISTS)}.')
  config_lib.check_choice('test_dataset', config.test_dataset.name, SPEECH_DATASETS)
  if not (config.audio.sample_rate > 0 and config.audio.clip_seconds > 0):
    raise errors.ConfigError('audio.sample_rate and audio.clip_seconds must be positive.')


SPEECH_DATASETS = {name: DATASETS[name] for name in ('audio_folder', 'speech_commands')}

TASK = base.Task(
    name='spoken_words',
    models=MODELS,
    datasets=SPEECH_DATASETS,
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=classification.summarize_eval,  # the same sums as a classifier's
    check_config=check_config,
    data_model_fields=('num_classes', 'sample_rate'),
    rng_streams=('dropout', 'augment'),
    final_results=final_results,
    plot_run=plot_run,
)
