"""Image captioning: Show and Tell (Vinyals et al. 2015) over a frozen CNN.

The encoder is a pretrained ImageNet CNN (research/pretrained.py), frozen as
in the paper's main results; its pooled last-layer features of every image
are computed once when the run starts (the images never change and the CNN
is frozen, so each image's vector is the same at every step; one forward
pass per image instead of one per step). `encoder.pretrained=False` gives the
same network with random weights: the baseline that shows what the
ImageNet features contribute.

Training examples are (image, caption) pairs: every caption of every
training image (the paper trains on all five per COCO image). The loss is
the mean negative log likelihood of each caption word and the stop word
(eq. 13), with teacher forcing. Evaluation: the test captions' per-word
perplexity (exact: padded batches, masked tokens), then, once training is
done, a caption per test image by beam search (research/decoding.py) scored
against the image's references with BLEU-1..4, METEOR, ROUGE-L and CIDEr-D
(research/caption_metrics.py); the captions go to WORKDIR/captions_test.json.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from research import caption_metrics, config_lib, decoding, errors, fileio, parallel
from research import pretrained, writers
from research import workdir as workdir_lib
from research.data import captions, feeding
from research.data.lm_corpus import Vocabulary
from research.data.registry import DATASETS
from research.models.captioning import ShowAndTell
from research.plots import captioning as pictures
from research.tasks import base

VOCAB_FILE = 'caption_vocab.json'
# Never generated: padding, the start word, and "unknown word" (a caption of
# <unk>s scores on BLEU's common words while saying nothing).
BANNED_IDS = (captions.PAD_ID, captions.START_ID, captions.UNK_ID)
CAPTIONS_FILE = 'captions_test.json'


# --- the encoder: image -> vector, once per image -------------------------------------

def _squeezenet_features(weights_name: str):
  return pretrained.entry(weights_name).module.clone(output='features')


def _vgg19_features(weights_name: str):
  return pretrained.entry(weights_name).module.clone(last_layer='block5_conv4')


# Encoder weights -> the module whose output is pooled into the image vector (512-d).
ENCODERS = {
    'squeezenet1_1': _squeezenet_features,
    'vgg19': _vgg19_features,
}


def encoder_features(encoder_config, image_sets: Sequence[np.ndarray], seed: int,
                     batch_size: int = 32) -> list[np.ndarray]:
  """The frozen CNN's globally averaged last-layer features (N x F, float32)
  of each set of images (e.g. each split): the weights read and the network
  compiled once for all of them."""
  name = encoder_config.name
  module = ENCODERS[name](name)
  size = pretrained.entry(name).input_size or 224
  probe = jnp.zeros((1, size, size, 3), jnp.float32)
  if encoder_config.pretrained:
    params = pretrained.load(name, encoder_config.weights_dir)
  else:  # The same network, randomly initialised (the seed's own draw).
    params = module.init(jax.random.key(seed), probe)['params']

  @jax.jit
  def features(params, rgb_BxHxWx3):
    x = pretrained.preprocess(name, pretrained.resize_to_input(name, rgb_BxHxWx3))
    out = module.apply({'params': params}, x)
    if isinstance(out, dict):  # VGG: the named layers' feature maps
      out = out['block5_conv4']
    return out.mean(axis=(1, 2)) if out.ndim == 4 else out

  def of(images_NxHxWx3):
    rows = []
    for start in range(0, len(images_NxHxWx3), batch_size):
      batch = images_NxHxWx3[start:start + batch_size].astype(np.float32)
      if len(batch) < batch_size:  # one compiled shape
        batch = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]),
                                                np.float32)])
      rows.append(np.asarray(features(params, batch)))
    return np.concatenate(rows)[:len(images_NxHxWx3)]

  return [of(images) for images in image_sets]


# --- the data ---------------------------------------------------------------------------

class CaptionFeeder(feeding.RowFeeder):
  """Image vectors and caption id rows on every device; a step gathers
  caption rows and their images' vectors by index."""

  def __init__(self, config, mesh):
    self.mesh = mesh
    ds = config.dataset
    train = captions.load_split(ds, ds.train_split)
    evaluated = {'test': captions.load_split(ds, ds.eval_split)}
    self.vocab = captions.build_vocabulary(train.captions, config.captions.min_count)
    self.max_length = config.captions.max_length
    self.splits = {'train': train, **evaluated}
    self.eval_splits = tuple(evaluated)
    writers.log(f'{ds.name}: computing the {config.encoder.name} features of '
                f'{sum(len(s.filenames) for s in self.splits.values()):,} images '
                f'({"pretrained" if config.encoder.pretrained else "random"} weights; once).')
    self.features = dict(zip(self.splits, encoder_features(
        config.encoder, [s.images_NxHxWx3 for s in self.splits.values()], config.seed)))
    self.encoded = {name: captions.encode(self.vocab, s.captions, self.max_length)
                    for name, s in self.splits.items()}
    enc = self.encoded['train']
    writers.log(f'{ds.name}: {len(train.filenames):,} train images, {len(enc.ids_NxT):,} '
                f'captions, vocabulary {len(self.vocab):,} (min_count '
                f'{config.captions.min_count}); {enc.cut} train caption(s) cut to '
                f'{self.max_length} words.')
    self.order = feeding.TrainOrder(len(enc.ids_NxT), config.batch_size, config.seed)
    self.eval_batch_size = config.eval_batch_size
    self.feature_size = self.features['train'].shape[1]
    self.split_sizes = {name: len(e.ids_NxT) for name, e in self.encoded.items()}
    self.data = {name: {'features': parallel.replicate(self.features[name], mesh),
                        'ids': parallel.replicate(self.encoded[name].ids_NxT, mesh),
                        'image': parallel.replicate(self.encoded[name].image_index_N, mesh)}
                 for name in self.splits}

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'vocab_size': len(self.vocab)}

  def gather(self, data, idx_B):
    """Each caption row, and its image's vector."""
    image_B = jnp.take(data['image'], idx_B, axis=0)
    return {'features': jnp.take(data['features'], image_B, axis=0),
            'ids': jnp.take(data['ids'], idx_B, axis=0)}


def make_feeder(config, mesh) -> CaptionFeeder:
  return CaptionFeeder(config, mesh)


def init_variables(model: ShowAndTell, feeder: CaptionFeeder):
  def init(rng):
    features = jnp.zeros((1, feeder.feature_size), jnp.float32)
    tokens = jnp.zeros((1, feeder.max_length + 1), jnp.int32)
    return model.init({'params': rng, 'dropout': rng}, features, tokens)['params'], {}
  return init


# --- objective and evaluation -----------------------------------------------------------

def _token_nll(params, batch, *, model, train: bool, rng=None):
  """Per-token negative log likelihood of words 1..T given 0..T-1, and the
  mask of real (non-pad) targets: B x T each."""
  ids_BxT = batch['ids']
  logits_BxTxV = model.apply({'params': params}, batch['features'], ids_BxT[:, :-1],
                             train=train, rngs={'dropout': rng} if rng is not None else None)
  targets = ids_BxT[:, 1:]
  logp = jax.nn.log_softmax(logits_BxTxV)
  nll_BxT = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
  return nll_BxT, (targets != captions.PAD_ID).astype(jnp.float32)


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  """Mean NLL per target word (eq. 13, averaged over the batch's words)."""
  del constants, step, config
  nll, mask = _token_nll(params, batch, model=model, train=True, rng=rngs['dropout'])
  value = jnp.sum(nll * mask) / jnp.maximum(jnp.sum(mask), 1.0)
  return value, (model_state, {})


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  del model_state, constants, config
  nll, mask = _token_nll(params, batch, model=model, train=False)
  mask = mask * batch['mask'].astype(jnp.float32)[:, None]
  return {'nll_sum': jnp.sum(nll * mask), 'tokens': jnp.sum(mask),
          'count': jnp.sum(batch['mask'].astype(jnp.float32))}, carry


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
  per_word = sums['nll_sum'] / sums['tokens']
  return {f'{prefix}_loss': per_word, f'{prefix}_perplexity': math.exp(float(per_word)),
          f'{prefix}_captions': sums['count']}


# --- captions by beam search, and their scores -----------------------------------------

def generate(model: ShowAndTell, params, features_NxF: np.ndarray, *, beam_size: int,
             max_length: int, batch_size: int = 64) -> list[list[int]]:
  """The best beam's word ids for each image (without <end>)."""
  @jax.jit
  def run(params, features_BxF):
    carry = model.apply({'params': params}, features_BxF, method=ShowAndTell.start)
    step = lambda c, t: model.apply({'params': params}, c, t, method=ShowAndTell.step)
    beams = decoding.beam_search(step, carry, batch_size=features_BxF.shape[0],
                                 beam_size=beam_size, max_length=max_length + 1,
                                 start_id=captions.START_ID, end_id=captions.END_ID,
                                 banned_ids=BANNED_IDS)
    return beams.tokens_BxKxL[:, 0]

  out = []
  for start in range(0, len(features_NxF), batch_size):
    chunk = features_NxF[start:start + batch_size]
    padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), chunk.shape[1]),
                                             chunk.dtype)]) if len(chunk) < batch_size else chunk
    tokens = np.asarray(run(params, padded))[:len(chunk)]
    out += [decoding.strip(row, captions.END_ID) for row in tokens]
  return out


def final_results(workdir, config, model, state, feeder: CaptionFeeder) -> dict[str, Any]:
  """Beam-search captions of the test images, their scores, and the file."""
  split = feeder.splits['test']
  params = jax.device_get(state.params)
  ids = generate(model, params, feeder.features['test'], beam_size=config.decode.beam_size,
                 max_length=config.decode.max_length)
  generated = [captions.decode(feeder.vocab, row) for row in ids]
  keys = [str(i) for i in range(len(split.filenames))]
  scores = caption_metrics.score(dict(zip(keys, split.captions)), dict(zip(keys, generated)),
                                 names=config.caption_metrics)
  if jax.process_index() == 0:
    fileio.write_json(fileio.join(workdir, CAPTIONS_FILE), [
        {'image': name, 'generated': text, 'references': refs}
        for name, text, refs in zip(split.filenames, generated, split.captions)])
  return {f'test_{k}': v for k, v in scores.items()} | {
      'test_distinct_captions': len(set(generated))}


def plot_run(workdir, config, model, state, feeder: CaptionFeeder) -> list[str]:
  """The curves, and the first 8 test images with their reference and the
  beam-search caption (from the captions file final_results wrote)."""
  del config, model, state
  shown = fileio.read_json(fileio.join(workdir, CAPTIONS_FILE))[:8]
  split = feeder.splits['test']
  return [pictures.plot_curves(workdir),
          pictures.plot_captions(split.images_NxHxWx3[:len(shown)],
                                 [s['references'] for s in shown],
                                 [s['generated'] for s in shown],
                                 fileio.join(workdir, 'captions_test.png'))]


def sync_workdir(workdir: str, config, feeder: CaptionFeeder, constants) -> None:
  """The vocabulary: ids mean words only through it, so a resumed run (and
  `launch.caption`) must see the same one."""
  del config, constants

  def check(path):
    saved = Vocabulary.load(path)
    if saved != feeder.vocab:
      raise errors.ConfigError(
          f'Vocabulary mismatch: {path} was built from other training captions than this '
          "run's; use a new --workdir for a changed dataset.")

  workdir_lib.sync_file(workdir, VOCAB_FILE, write=feeder.vocab.save, check=check)


def check_config(config) -> None:
  config_lib.check_choice('encoder', config.encoder.name, ENCODERS)
  caption_metrics.check_available(config.caption_metrics)
  for key in ('captions.max_length', 'decode.max_length', 'decode.beam_size',
              'captions.min_count'):
    section, name = key.split('.')
    value = config[section][name]
    if not (isinstance(value, int) and value >= 1):
      raise errors.ConfigError(f'{key}={value!r}: give a positive integer.')


TASK = base.Task(
    name='captioning',
    models={'show_and_tell': ShowAndTell},
    datasets={name: DATASETS[name] for name in ('caption_folder', 'coco_captions')},
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    rng_streams=('dropout',),
    sync_workdir=sync_workdir,
    final_results=final_results,
    plot_run=plot_run,
)
