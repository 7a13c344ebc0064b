"""What the PyTorch twin of a model's training step starts from, written by
the JAX side to one .npz file (`write`). The twin (launch/torch_models.py,
run by launch/benchmark_torch.py) imports neither jax nor research/: every
value it mirrors travels in the file.

  spec             JSON (`twin_spec`): the architecture, the batch size, the
                   compute dtype, the optimizer and its hyper-parameters, the
                   augmentation, which parameters are projected, frozen or
                   constant
  param/NAME       every parameter and BatchNorm statistic at the start,
                   under its torch name, in torch's layout (`torch_entries`)
  learning_rates   the schedule's value at each of the S steps
  classification:  inputs (the rows the S steps read: images N x C x H x W,
                   texts N x L word ids), labels (N,), batch_rows (S x B:
                   step s's examples, indices into inputs)
  language model:  token_rows (B x (L+1), the feeder's rows), window_offsets
                   (S,): step s reads tokens [o, o+T) and predicts [o+1, o+T+1);
                   its carry restarts from zeros where o = 0
  check_inputs, check_targets   the first step's batch, not augmented

Both sides compute the objective on the check batch in deterministic mode
(no dropout, no augmentation, BatchNorm on its running statistics): the
project's own eval step here (`jax_check_losses`), the twin's modules in
eval mode there. A model computed in bfloat16 is also checked in float32,
where the two must agree as closely as any float32 model.

Layouts, Flax -> torch (`torch_entries`):
  Dense kernel (in, out)               -> Linear weight (out, in)
  Conv kernel (H, W, in, out)          -> Conv2d weight (out, in, H, W)
  Conv kernel (W, in, out)             -> Conv1d weight (out, in, W)
  a Dense that reads a flattened       -> its rows reordered from Flax's (H, W, C)
    feature map                           to torch's (C, H, W) flattening
  BatchNorm scale, bias; batch_stats   -> weight, bias; running_mean, running_var
    mean, var
  Embed embedding (V, D)               -> Embedding weight (V, D)
  LSTM layer_l: input kernel (D, 4H)   -> nn.LSTM weight_ih_l{l} (4H, D), bias_ih_l{l},
    and bias, hidden kernel (H, 4H)       weight_hh_l{l} (4H, H); gates i, f, g, o in
                                          both. bias_hh_l{l} holds the cell's constant
                                          forget_bias on f (0 elsewhere) and is not
                                          trained: nn.LSTM has no forget bias, and its
                                          second bias would be a parameter JAX has not.
Images go from N x H x W x C to N x C x H x W.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from research import errors
from research import step as step_lib

ACTIVATIONS = ('relu', 'tanh', 'sigmoid', 'gelu', 'lecun_tanh')
COMPUTE_DTYPES = ('float32', 'bfloat16')


# config.model.name -> (task, fields the twin builds: None for any value, or
# the values it implements; fields that change how JAX computes a step but
# not what it computes, or only the initial values, which the twin copies).
TWINS: dict[str, tuple[str, dict[str, tuple | None], tuple[str, ...]]] = {
    'mlp': ('classification',
            {'hidden_sizes': None, 'activation': ACTIVATIONS, 'dropout_rate': None,
             'residual': None},
            ('param_init',)),
    'lenet5': ('classification',
               {'activation': ACTIVATIONS, 'pooling': ('avg', 'max'), 'dropout_rate': None},
               ('conv_impl',)),
    'small_cnn': ('classification',
                  {'block_channels': None, 'convs_per_block': None, 'conv_dropout_rate': None,
                   'dense_sizes': None, 'dense_dropout_rate': None, 'dtype': COMPUTE_DTYPES},
                  ('conv_impl',)),
    'cifar_resnet': ('classification',
                     {'depth': None, 'shortcut': ('A', 'B'), 'dtype': COMPUTE_DTYPES},
                     ('zero_init_residual', 'conv_impl')),
    'textcnn': ('classification',
                {'embed_dim': None, 'window_sizes': None, 'num_filters': None,
                 'activation': ACTIVATIONS, 'dropout_rate': None},
                ()),
    # torch's autocast runs nn.LSTM's gates in bfloat16 where the JAX cell
    # keeps them and its carry in float32: only float32 is the same step.
    'rnn_lm': ('language_model',
               {'cell': ('lstm',), 'num_layers': None, 'embed_dim': None, 'hidden_size': None,
                'dropout_rate': None, 'forget_bias': None, 'tie_embeddings': (False,),
                'dtype': ('float32',)},
               ('record_gates', 'scan_unroll', 'lstm_impl', 'param_init', 'init_scale')),
}
OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw')
LOSSES = ('softmax_cross_entropy',)


def _plain(value):
  return list(value) if isinstance(value, (list, tuple)) else value


def has_twin(config) -> bool:
  return config.model.name in TWINS and TWINS[config.model.name][0] == config.task


def check_supported(config) -> None:
  """Raises ConfigError (one line, naming what to change) unless the twin
  mirrors every setting of the config's step."""
  if not has_twin(config):
    names = ', '.join(sorted(n for n, (task, _, _) in TWINS.items() if task == config.task))
    raise errors.ConfigError(
        f'No PyTorch twin for model {config.model.name!r} of task {config.task!r}'
        + (f' (twins: {names}).' if names else '.'))
  _, mirrored, same_step = TWINS[config.model.name]
  wrong = []
  for field, value in config.model.items():
    if field == 'name' or field in same_step:
      continue
    if field not in mirrored:
      raise errors.ConfigError(
          f'The PyTorch twin of {config.model.name!r} does not mirror model.{field} (it '
          f'builds {", ".join(sorted(mirrored))}).')
    if mirrored[field] is not None and value not in mirrored[field]:
      wrong.append((f'model.{field}', value, mirrored[field]))
  oc = config.optimizer
  if oc.name not in OPTIMIZERS:
    wrong.append(('optimizer.name', oc.name, OPTIMIZERS))
  if config.task == 'classification':
    if config.loss not in LOSSES:
      wrong.append(('loss', config.loss, LOSSES))
    if config.augment.erasing_prob:
      wrong.append(('augment.erasing_prob', config.augment.erasing_prob, (0.0,)))
  if wrong:
    raise errors.ConfigError(
        'The PyTorch twin does not mirror ' + ', '.join(f'{k}={v!r}' for k, v, _ in wrong)
        + ' (it needs ' + '; '.join(f'{k} in {", ".join(map(repr, ok))}' for k, _, ok in wrong)
        + ').')


def compute_dtype(config) -> str:
  return config.model.get('dtype', 'float32')


# --- Parameters in torch's names and layouts -----------------------------------------

KERNEL_TO_TORCH = {
    2: lambda k: k.T,                       # Dense (in, out) -> Linear (out, in)
    3: lambda k: k.transpose(2, 1, 0),      # Conv1D (W, in, out) -> (out, in, W)
    4: lambda k: k.transpose(3, 2, 0, 1),   # Conv2D (H, W, in, out) -> (out, in, H, W)
}
LEAF_TO_TORCH = {'kernel': 'weight', 'bias': 'bias', 'scale': 'weight', 'embedding': 'weight',
                 'mean': 'running_mean', 'var': 'running_var'}


def rows_hwc_to_chw(kernel, hwc: tuple[int, int, int]):
  """A Dense kernel over a flattened H x W x C map (Flax's NHWC order), its
  rows reordered for the same map flattened as C x H x W (torch's NCHW)."""
  h, w, c = hwc
  return kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)


def flattened_maps(model_name: str, model,
                   image_hwc: tuple[int, ...] | None) -> dict[str, tuple[int, int, int]]:
  """The Dense layer that reads a flattened feature map, and that map's H, W, C
  (none for an MLP on signals, L x C: those keep their layout)."""
  if model_name == 'mlp':
    return {'hidden_0' if model.hidden_sizes else 'out': tuple(image_hwc)} if image_hwc else {}
  if model_name == 'lenet5':
    return {'F6': (1, 1, 120)}  # C5 leaves 1 x 1 x 120 of LeNet's 32 x 32 input
  if model_name == 'small_cnn':
    h, w, _ = image_hwc
    for _ in model.block_channels:  # each block ends in a 2 x 2 pool (floor)
      h, w = h // 2, w // 2
    return {'dense0' if model.dense_sizes else 'out': (h, w, model.block_channels[-1])}
  return {}


def torch_entries(model_name: str, model, params, model_state,
                  image_hwc: tuple[int, ...] | None = None) -> list[tuple[tuple | None, str, np.ndarray]]:
  """(Flax path or None for a constant, torch name, array in torch's layout)
  for every parameter and BatchNorm statistic of `model` (the Flax module of
  config.model.name `model_name`; the module doc lists the layouts)."""
  params = dict(traverse_util.flatten_dict(jax.device_get(params)))
  flattened = flattened_maps(model_name, model, image_hwc)
  entries = []
  if model_name == 'rnn_lm':
    hidden = model.hidden_size
    for layer in range(model.num_layers):
      prefix = f'layer_{layer}'
      for flax_leaf, torch_name in ((('input', 'kernel'), 'weight_ih'), (('input', 'bias'), 'bias_ih'),
                                    (('hidden', 'kernel'), 'weight_hh')):
        path = (prefix, *flax_leaf)
        value = np.asarray(params.pop(path), np.float32)
        entries.append((path, f'lstm.{torch_name}_l{layer}', value.T if value.ndim == 2 else value))
      forget = np.zeros(4 * hidden, np.float32)
      forget[hidden:2 * hidden] = model.forget_bias  # gates i, f, g, o
      entries.append((None, f'lstm.bias_hh_l{layer}', forget))
  for path, value in sorted(params.items()):
    value = np.asarray(value, np.float32)
    module, leaf = '.'.join(path[:-1]), path[-1]
    if leaf == 'kernel':
      if module in flattened:
        value = rows_hwc_to_chw(value, flattened[module])
      value = KERNEL_TO_TORCH[value.ndim](value)
    entries.append((path, f'{module}.{LEAF_TO_TORCH[leaf]}', np.ascontiguousarray(value)))
  stats = traverse_util.flatten_dict(jax.device_get(dict(model_state).get('batch_stats', {})))
  for path, value in sorted(stats.items()):
    entries.append((('batch_stats', *path), f'{".".join(path[:-1])}.{LEAF_TO_TORCH[path[-1]]}',
                    np.asarray(value, np.float32)))
  return entries


def twin_spec(config, model, data_fields, input_shape: tuple[int, ...] | None,
              entries) -> dict[str, Any]:
  """Everything the twin builds and trains by, as plain JSON values: the
  architecture is the built Flax module's (the config's values, the module's
  defaults for the rest, `data_fields` such as num_classes from the data)."""
  _, mirrored, _ = TWINS[config.model.name]
  oc = config.optimizer
  architecture = {k: _plain(getattr(model, k)) for k in (*mirrored, *data_fields)}
  for field, allowed in mirrored.items():  # a module default the twin lacks
    if allowed is not None and architecture[field] not in allowed:
      raise errors.ConfigError(
          f'The PyTorch twin does not mirror model.{field}={architecture[field]!r} (it needs '
          f'one of {", ".join(map(repr, allowed))}).')
  trained = [(path, name) for path, name, _ in entries
             if path is not None and path[0] != 'batch_stats']
  spec = {
      'model': config.model.name,
      'task': config.task,
      'architecture': architecture,
      'batch_size': config.batch_size,
      'dtype': compute_dtype(config),
      'optimizer': {'name': oc.name, 'momentum': oc.momentum, 'nesterov': oc.nesterov,
                    'b1': oc.b1, 'b2': oc.b2, 'weight_decay': oc.weight_decay,
                    'grad_clip_norm': oc.grad_clip_norm},
      # optim.max_norm_projection: the kernels under these top-level modules.
      'max_norm': oc.max_norm,
      'max_norm_params': ([name for path, name in trained
                           if path[0] in oc.max_norm_modules and path[-1] == 'kernel']
                          if oc.max_norm is not None else []),
      'frozen_params': [name for path, name in trained if path[0] in oc.frozen_modules],
      'constant_params': [name for path, name, _ in entries if path is None],
  }
  if config.task == 'classification':
    spec['input_shape'] = list(input_shape)
    spec['augment'] = {'crop_padding': config.augment.crop_padding,
                       'flip': bool(config.augment.flip)}
  else:
    spec['seq_len'] = config.seq_len
  return spec


# --- The data, the batches and the check ----------------------------------------------

def _nchw(images):
  return np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if images.ndim == 4 else images


def jax_check_losses(config, start, batch: dict[str, np.ndarray]) -> dict[str, float]:
  """The objective on `batch` in deterministic mode, by the task's own eval
  step: 'loss_at_start' in the config's compute dtype and, for a model
  computed in bfloat16, 'float32_loss_at_start' as well."""
  models = {'loss_at_start': start.model}
  if compute_dtype(config) != 'float32':
    models['float32_loss_at_start'] = start.model.clone(dtype='float32')
  carry = None
  if config.task == 'language_model':
    carry = start.model.initial_carry(batch['inputs'].shape[0])
  losses = {}
  for key, model in models.items():
    eval_fn = step_lib.compile_eval_batch(start.task, model, config)
    sums, _ = eval_fn(start.state.params, start.state.model_state,
                      jax.tree.map(jnp.asarray, batch), carry, start.constants)
    losses[key] = float(sums['loss_sum']) / float(sums['count'])
  return losses


def write(path: str, config, start) -> dict[str, float]:
  """Writes the twin's file for `start` (a research.benchmark.StartingPoint,
  before its first step) and returns JAX's check losses."""
  check_supported(config)
  if jax.process_count() > 1:
    raise errors.ConfigError('--against=torch runs on one host: this run has '
                             f'{jax.process_count()} processes.')
  feeder, steps = start.feeder, start.num_steps
  arrays: dict[str, np.ndarray] = {}
  if config.task == 'classification':
    inputs = np.asarray(feeder.train_data['image'])
    labels = np.asarray(feeder.train_data['label'])
    indices_SxB = np.stack([feeder.order.global_indices(s) for s in range(steps)])
    # Only the rows the steps read travel (a fraction of a large set in a short run).
    rows, batch_rows = np.unique(indices_SxB, return_inverse=True)
    arrays.update(inputs=_nchw(inputs[rows]), labels=labels[rows].astype(np.int64),
                  batch_rows=batch_rows.reshape(indices_SxB.shape).astype(np.int64))
    first = indices_SxB[0]
    batch = {'image': inputs[first], 'label': labels[first],
             'mask': np.ones(len(first), bool)}
    arrays.update(check_inputs=_nchw(inputs[first]), check_targets=labels[first].astype(np.int64))
    image_hwc = inputs.shape[1:] if inputs.ndim == 4 else None
    input_shape = tuple(arrays['inputs'].shape[1:])
  else:
    token_rows = np.asarray(feeder.train_rows).astype(np.int64)
    seq_len = feeder.seq_len
    offsets = [(s % feeder.steps_per_epoch) * seq_len for s in range(steps)]
    arrays.update(token_rows=token_rows, window_offsets=np.asarray(offsets, np.int64))
    batch = {'inputs': token_rows[:, :seq_len].astype(np.int32),
             'targets': token_rows[:, 1:seq_len + 1].astype(np.int32),
             'mask': np.ones((token_rows.shape[0], seq_len), bool)}
    arrays.update(check_inputs=batch['inputs'].astype(np.int64),
                  check_targets=batch['targets'].astype(np.int64))
    image_hwc = input_shape = None
  entries = torch_entries(config.model.name, start.model, start.state.params,
                          start.state.model_state, image_hwc)
  spec = twin_spec(config, start.model, feeder.model_kwargs, input_shape, entries)
  arrays['learning_rates'] = np.asarray([float(start.schedule(s)) for s in range(steps)],
                                        np.float64)
  losses = jax_check_losses(config, start, batch)
  np.savez(path, spec=np.asarray(json.dumps(spec)),
           **{f'param/{name}': value for _, name, value in entries}, **arrays)
  return losses


def read_spec(path: str) -> dict[str, Any]:
  with np.load(path, allow_pickle=False) as f:
    return json.loads(str(f['spec']))
