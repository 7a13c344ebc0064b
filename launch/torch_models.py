"""The PyTorch twins of the project's models and of their training step, for
launch/benchmark_torch.py. A twin is built from a spec, the JSON that the
JAX side writes into the twin's file (research/torch_export.py, which also
writes the parameters in these modules' names and layouts); this file needs
torch and numpy only, never jax or research/.

  mlp           research/models/mlp.py: flatten -> hidden_i (Linear, activation,
                [+ input when residual], dropout) -> out
  lenet5        research/models/lenet.py: C1 conv 6@5x5 -> 2x2 pool -> C3 16@5x5 ->
                pool -> C5 120@5x5 -> F6 84 -> dropout -> out
  small_cnn     research/models/cnn.py: blocks of (3x3 conv without bias,
                BatchNorm, ReLU) x convs_per_block, 2x2 max pool, dropout ->
                dense_i (ReLU, dropout) -> out
  cifar_resnet  research/models/resnet.py CifarResNet: 3x3 conv 16 + BN + ReLU ->
                3 stages of basic blocks (16/32/64 filters, stride 2 at the
                start of stages 2 and 3; option-A shortcuts: subsample and pad
                with zero channels, or B: 1x1 conv + BN) -> global mean -> out
  textcnn       research/models/text.py TextCNN: embedding (the padding id's
                vector masked to 0) -> max(window) - 1 zero vectors each side ->
                Conv1d per window size + activation -> max over time -> dropout -> out
  rnn_lm        research/models/rnn.py RNNLanguageModel (LSTM): embedding ->
                dropout -> nn.LSTM (dropout between layers) -> dropout -> out

BatchNorm: Flax's momentum 0.9 is torch's 0.1, epsilon 1e-5 on both sides.
Flax's nn.gelu is the tanh approximation (F.gelu(approximate='tanh')).
A bfloat16 compute dtype (float32 parameters, the loss in float32) runs the
forward pass under torch.autocast('cpu', dtype=torch.bfloat16).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    'relu': torch.relu,
    'tanh': torch.tanh,
    'sigmoid': torch.sigmoid,
    'gelu': lambda x: F.gelu(x, approximate='tanh'),
    'lecun_tanh': lambda x: 1.7159 * torch.tanh(2.0 / 3.0 * x),
}


def pool_2x2(x, kind):
  return F.max_pool2d(x, 2) if kind == 'max' else F.avg_pool2d(x, 2)


def batch_norm(channels):
  return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


class MLP(nn.Module):

  def __init__(self, arch, input_shape):
    super().__init__()
    self.act = ACTIVATIONS[arch['activation']]
    self.residual = arch['residual']
    self.drop = nn.Dropout(arch['dropout_rate'])
    width = math.prod(input_shape)
    self.hidden = []
    for i, size in enumerate(arch['hidden_sizes']):
      setattr(self, f'hidden_{i}', nn.Linear(width, size))
      self.hidden.append(getattr(self, f'hidden_{i}'))
      width = size
    self.out = nn.Linear(width, arch['num_classes'])

  def forward(self, x):
    h = x.flatten(1)
    for i, layer in enumerate(self.hidden):
      out = self.act(layer(h))
      h = self.drop(h + out if self.residual and i > 0 else out)
    return self.out(h)


class LeNet5(nn.Module):

  def __init__(self, arch, input_shape):
    super().__init__()
    self.act = ACTIVATIONS[arch['activation']]
    self.pooling = arch['pooling']
    self.C1 = nn.Conv2d(input_shape[0], 6, 5)
    self.C3 = nn.Conv2d(6, 16, 5)
    self.C5 = nn.Conv2d(16, 120, 5)
    self.F6 = nn.Linear(120, 84)
    self.drop = nn.Dropout(arch['dropout_rate'])
    self.out = nn.Linear(84, arch['num_classes'])

  def forward(self, x):
    x = pool_2x2(self.act(self.C1(x)), self.pooling)
    x = pool_2x2(self.act(self.C3(x)), self.pooling)
    x = self.act(self.C5(x)).flatten(1)
    return self.out(self.drop(self.act(self.F6(x))))


class SmallCNN(nn.Module):

  def __init__(self, arch, input_shape):
    super().__init__()
    channels, h, w = input_shape
    self.blocks = []
    for b, width in enumerate(arch['block_channels']):
      layers = []
      for c in range(arch['convs_per_block']):
        # No conv bias: the BatchNorm shift after it makes it redundant (as in JAX).
        setattr(self, f'block{b}_conv{c}', nn.Conv2d(channels, width, 3, padding=1, bias=False))
        setattr(self, f'block{b}_bn{c}', batch_norm(width))
        layers.append((getattr(self, f'block{b}_conv{c}'), getattr(self, f'block{b}_bn{c}')))
        channels = width
      self.blocks.append(layers)
      h, w = h // 2, w // 2
    self.conv_drop = nn.Dropout(arch['conv_dropout_rate'])
    self.dense_drop = nn.Dropout(arch['dense_dropout_rate'])
    width = channels * h * w
    self.dense = []
    for i, size in enumerate(arch['dense_sizes']):
      setattr(self, f'dense{i}', nn.Linear(width, size))
      self.dense.append(getattr(self, f'dense{i}'))
      width = size
    self.out = nn.Linear(width, arch['num_classes'])

  def forward(self, x):
    for layers in self.blocks:
      for conv, bn in layers:
        x = torch.relu(bn(conv(x)))
      x = self.conv_drop(F.max_pool2d(x, 2))
    h = x.flatten(1)
    for layer in self.dense:
      h = self.dense_drop(torch.relu(layer(h)))
    return self.out(h)


class BasicBlock(nn.Module):

  def __init__(self, in_channels, features, stride, shortcut):
    super().__init__()
    self.stride, self.shortcut = stride, shortcut
    self.conv1 = nn.Conv2d(in_channels, features, 3, stride, padding=1, bias=False)
    self.bn1 = batch_norm(features)
    self.conv2 = nn.Conv2d(features, features, 3, 1, padding=1, bias=False)
    self.bn2 = batch_norm(features)
    self.extra_channels = features - in_channels
    self.project = (stride != 1 or in_channels != features) and shortcut == 'B'
    if self.project:
      self.proj_conv = nn.Conv2d(in_channels, features, 1, stride, bias=False)
      self.proj_bn = batch_norm(features)

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    if self.project:
      x = self.proj_bn(self.proj_conv(x))
    elif self.stride != 1 or self.extra_channels:
      # Option A: subsample, then zero channels for the added dimensions.
      x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.extra_channels))
    return torch.relu(y + x)


class CifarResNet(nn.Module):

  def __init__(self, arch, input_shape):
    super().__init__()
    n = (arch['depth'] - 2) // 6
    self.stem_conv = nn.Conv2d(input_shape[0], 16, 3, 1, padding=1, bias=False)
    self.stem_bn = batch_norm(16)
    self.blocks = []
    channels = 16
    for s, features in enumerate((16, 32, 64)):
      for b in range(n):
        block = BasicBlock(channels, features, 2 if s > 0 and b == 0 else 1, arch['shortcut'])
        setattr(self, f'stage{s + 1}_block{b + 1}', block)
        self.blocks.append(block)
        channels = features
    self.out = nn.Linear(channels, arch['num_classes'])

  def forward(self, x):
    x = torch.relu(self.stem_bn(self.stem_conv(x)))
    for block in self.blocks:
      x = block(x)
    return self.out(x.mean(dim=(2, 3)))


class TextCNN(nn.Module):

  def __init__(self, arch, input_shape):
    super().__init__()
    del input_shape  # any length
    self.windows = list(arch['window_sizes'])
    self.act = ACTIVATIONS[arch['activation']]
    self.embed = nn.Embedding(arch['vocab_size'], arch['embed_dim'])
    self.convs = []
    for h in self.windows:
      setattr(self, f'conv_{h}', nn.Conv1d(arch['embed_dim'], arch['num_filters'], h))
      self.convs.append(getattr(self, f'conv_{h}'))
    self.drop = nn.Dropout(arch['dropout_rate'])
    self.out = nn.Linear(len(self.windows) * arch['num_filters'], arch['num_classes'])

  def forward(self, ids_BxL):
    # The padding id (0)'s vector is masked to zero, as the JAX model does
    # (not padding_idx: that would also zero its gradient, which JAX keeps).
    emb = self.embed(ids_BxL) * (ids_BxL != 0).unsqueeze(-1)
    pad = max(self.windows) - 1
    emb_BxDxL = F.pad(emb.transpose(1, 2), (pad, pad))
    pooled = torch.cat([self.act(conv(emb_BxDxL)).amax(dim=2) for conv in self.convs], dim=1)
    return self.out(self.drop(pooled))


class LSTMLanguageModel(nn.Module):

  def __init__(self, arch):
    super().__init__()
    self.embed = nn.Embedding(arch['vocab_size'], arch['embed_dim'])
    self.lstm = nn.LSTM(arch['embed_dim'], arch['hidden_size'], num_layers=arch['num_layers'],
                        dropout=arch['dropout_rate'], batch_first=True)
    self.drop = nn.Dropout(arch['dropout_rate'])
    self.out = nn.Linear(arch['hidden_size'], arch['vocab_size'])

  def forward(self, tokens_BxT, state):
    h, state = self.lstm(self.drop(self.embed(tokens_BxT)), state)
    return self.out(self.drop(h)), state


IMAGE_MODELS = {'mlp': MLP, 'lenet5': LeNet5, 'small_cnn': SmallCNN,
                'cifar_resnet': CifarResNet, 'textcnn': TextCNN}


def build(spec):
  """The spec's model, in train mode, with torch's default initialisation."""
  if spec['model'] == 'rnn_lm':
    return LSTMLanguageModel(spec['architecture'])
  return IMAGE_MODELS[spec['model']](spec['architecture'], spec['input_shape'])


def load_parameters(model, arrays):
  """Copies {torch name: array} into the model: every parameter and buffer
  must be there, with its shape (num_batches_tracked excepted: BatchNorm
  uses it only without a momentum)."""
  state = {name: torch.from_numpy(np.array(value)) for name, value in arrays.items()}
  missing, unexpected = model.load_state_dict(state, strict=False)
  missing = [m for m in missing if not m.endswith('num_batches_tracked')]
  if missing or unexpected:
    raise ValueError(f'The twin file does not match the model: missing {missing}, '
                     f'unexpected {unexpected}.')


def make_optimizer(spec, model):
  """The spec's optimizer over the trained parameters (frozen and constant
  ones get requires_grad=False). Weight decay is coupled L2 (added to the
  gradient, as optax.add_decayed_weights before the optimizer) except for
  AdamW's decoupled decay, as in research/optim.py; the learning rate is set
  before every step."""
  untrained = set(spec['frozen_params']) | set(spec['constant_params'])
  params = []
  for name, p in model.named_parameters():
    p.requires_grad_(name not in untrained)
    if name not in untrained:
      params.append(p)
  oc = spec['optimizer']
  name, decay = oc['name'], oc['weight_decay']
  if name == 'sgd':
    return torch.optim.SGD(params, lr=0.0, weight_decay=decay), params
  if name == 'momentum':
    return torch.optim.SGD(params, lr=0.0, momentum=oc['momentum'], nesterov=oc['nesterov'],
                           weight_decay=decay), params
  betas = (oc['b1'], oc['b2'])  # eps 1e-8 as optax's
  if name == 'adam':
    return torch.optim.Adam(params, lr=0.0, betas=betas, eps=1e-8, weight_decay=decay), params
  if name == 'adamw':
    return torch.optim.AdamW(params, lr=0.0, betas=betas, eps=1e-8, weight_decay=decay), params
  raise ValueError(f'optimizer {name!r}: the twin runs sgd, momentum, adam or adamw')


def crop_and_flip(images_BxCxHxW, padding, flip, generator):
  """research/data/augment.py's random crop (zero-pad by `padding`, crop back
  at a random offset per image) and left-right flip (probability 1/2), as one
  gather."""
  b, _, h, w = images_BxCxHxW.shape
  x = F.pad(images_BxCxHxW, (padding,) * 4) if padding else images_BxCxHxW
  offsets = torch.randint(0, 2 * padding + 1, (b, 2), generator=generator)
  rows_BxH = offsets[:, :1] + torch.arange(h)
  cols_BxW = offsets[:, 1:] + torch.arange(w)
  if flip:
    flipped = torch.rand(b, generator=generator) < 0.5
    cols_BxW = torch.where(flipped[:, None], cols_BxW.flip(1), cols_BxW)
  batch = torch.arange(b)[:, None, None]
  # Advanced indices around the channel slice put their dims first: B x H x W x C.
  return x[batch, :, rows_BxH[:, :, None], cols_BxW[:, None, :]].permute(0, 3, 1, 2)


class Trainer:
  """The twin's training step on data resident in memory. `data` holds
  classification: inputs, labels, batch_rows; language model: token_rows,
  window_offsets; both: learning_rates (one per step)."""

  def __init__(self, spec, model, data, seed=0):
    self.spec, self.model, self.data = spec, model, data
    self.opt, self.params = make_optimizer(spec, model)
    self.autocast = spec['dtype'] == 'bfloat16'
    by_name = dict(model.named_parameters())
    self.max_norm_params = [by_name[n] for n in spec['max_norm_params']]
    self.generator = torch.Generator().manual_seed(seed)
    self.state = None  # the language model's carry

  def forward(self, inputs, state=None):
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=self.autocast):
      if self.spec['task'] == 'language_model':
        logits, state = self.model(inputs, state)
      else:
        logits = self.model(inputs)
    return logits.float(), state  # the loss in float32, as the JAX models return

  def objective(self, inputs, targets, state=None):
    logits, state = self.forward(inputs, state)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), state

  def check_loss(self, inputs, targets, *, float32=False):
    """The objective in deterministic mode (dropout off, BatchNorm on its
    running statistics); float32: without autocast."""
    autocast, self.autocast = self.autocast, self.autocast and not float32
    self.model.eval()
    try:
      with torch.no_grad():
        return float(self.objective(inputs, targets)[0])
    finally:
      self.model.train()
      self.autocast = autocast

  def batch(self, step):
    if self.spec['task'] == 'language_model':
      offset, seq_len = int(self.data['window_offsets'][step]), self.spec['seq_len']
      rows = self.data['token_rows']
      if offset == 0:
        self.state = None  # zeros, as at the start of an epoch in JAX
      return rows[:, offset:offset + seq_len], rows[:, offset + 1:offset + seq_len + 1]
    idx = self.data['batch_rows'][step]
    inputs, labels = self.data['inputs'][idx], self.data['labels'][idx]
    augment = self.spec['augment']
    if augment['crop_padding'] or augment['flip']:
      inputs = crop_and_flip(inputs, augment['crop_padding'], augment['flip'], self.generator)
    return inputs, labels

  def step(self, step):
    inputs, targets = self.batch(step)
    for group in self.opt.param_groups:
      group['lr'] = float(self.data['learning_rates'][step])
    self.opt.zero_grad(set_to_none=True)
    if self.spec['task'] == 'language_model':
      # Truncated BPTT: the carry goes on, its gradient stops at the window.
      state = None if self.state is None else tuple(s.detach() for s in self.state)
      loss, self.state = self.objective(inputs, targets, state)
    else:
      loss, _ = self.objective(inputs, targets)
    loss.backward()
    clip = self.spec['optimizer']['grad_clip_norm']
    if clip is not None:
      torch.nn.utils.clip_grad_norm_(self.params, clip)
    self.opt.step()
    if self.max_norm_params:
      self.project(self.spec['max_norm'])
    return loss

  @torch.no_grad()
  def project(self, max_norm):
    """research/optim.py's max_norm_projection: each output unit's weight
    vector (a row here: torch puts outputs first) rescaled to norm <= max_norm."""
    for w in self.max_norm_params:
      norms = w.reshape(w.shape[0], -1).norm(dim=1).clamp_min(1e-12)
      w.mul_(torch.clamp(max_norm / norms, max=1.0).reshape(-1, *[1] * (w.dim() - 1)))


def tensors(arrays):
  """numpy arrays from the twin's file as torch tensors (shared memory)."""
  return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


# --- Standalone runs: the configs' shapes on random data --------------------------------

# What research/torch_export.py writes for these configs, less the data:
# configs/fashion_mnist_{mlp,lenet5,cnn,resnet}.py, fortunes_textcnn.py (its
# vocabulary of 14,963 words and 43 classes) and tiny_shakespeare_lstm.py.
_ADAM = {'name': 'adam', 'momentum': 0.9, 'nesterov': False, 'b1': 0.9, 'b2': 0.999,
         'weight_decay': 0.0, 'grad_clip_norm': None}
_NO_AUGMENT = {'crop_padding': 0, 'flip': False}
_COMMON = {'dtype': 'float32', 'max_norm': None, 'max_norm_params': [], 'frozen_params': [],
           'constant_params': [], 'augment': _NO_AUGMENT, 'optimizer': _ADAM,
           'task': 'classification', 'batch_size': 128, 'learning_rate': 1e-3}
STANDALONE = {
    'mlp': {**_COMMON, 'model': 'mlp', 'input_shape': [1, 28, 28], 'architecture': {
        'hidden_sizes': [256, 256], 'activation': 'relu', 'dropout_rate': 0.2,
        'residual': False, 'num_classes': 10}},
    'lenet5': {**_COMMON, 'model': 'lenet5', 'input_shape': [1, 32, 32], 'architecture': {
        'activation': 'relu', 'pooling': 'max', 'dropout_rate': 0.0, 'num_classes': 10}},
    'small_cnn': {**_COMMON, 'model': 'small_cnn', 'input_shape': [1, 28, 28], 'architecture': {
        'block_channels': [32, 64], 'convs_per_block': 2, 'conv_dropout_rate': 0.25,
        'dense_sizes': [256], 'dense_dropout_rate': 0.5, 'num_classes': 10}},
    'cifar_resnet': {**_COMMON, 'model': 'cifar_resnet', 'input_shape': [1, 28, 28],
                     'dtype': 'bfloat16', 'learning_rate': 0.1,
                     'optimizer': {**_ADAM, 'name': 'momentum', 'nesterov': True,
                                   'weight_decay': 5e-4},
                     'augment': {'crop_padding': 2, 'flip': True},
                     'architecture': {'depth': 20, 'shortcut': 'A', 'num_classes': 10}},
    'textcnn': {**_COMMON, 'model': 'textcnn', 'input_shape': [64], 'batch_size': 50,
                'max_norm': 3.0, 'max_norm_params': ['out.weight'], 'architecture': {
                    'embed_dim': 300, 'window_sizes': [3, 4, 5], 'num_filters': 100,
                    'activation': 'relu', 'dropout_rate': 0.5, 'num_classes': 43,
                    'vocab_size': 14963}},
    'lstm_lm': {**_COMMON, 'model': 'rnn_lm', 'task': 'language_model', 'batch_size': 64,
                'seq_len': 128, 'learning_rate': 2e-3,
                'optimizer': {**_ADAM, 'grad_clip_norm': 1.0},
                'constant_params': [f'lstm.bias_hh_l{l}' for l in range(2)],
                'architecture': {'num_layers': 2, 'embed_dim': 128, 'hidden_size': 512,
                                 'dropout_rate': 0.2, 'forget_bias': 1.0, 'vocab_size': 65}},
}


def standalone(name, *, batch_size, steps):
  """(spec, model, data) of a standalone run: torch's initialisation, random
  data (4,096 examples, or 2^14 tokens per row), a constant learning rate."""
  spec = {**STANDALONE[name]}
  spec['batch_size'] = batch_size or spec['batch_size']
  model = build(spec)
  if spec['task'] == 'language_model':
    arch = spec['architecture']
    with torch.no_grad():  # the forget-gate bias, constant as in the twin
      for layer in range(arch['num_layers']):
        bias = getattr(model.lstm, f'bias_hh_l{layer}')
        bias.zero_()
        bias[arch['hidden_size']:2 * arch['hidden_size']] = arch['forget_bias']
  generator = torch.Generator().manual_seed(0)
  lrs = torch.full((steps,), spec['learning_rate'], dtype=torch.float64)
  if spec['task'] == 'language_model':
    rows = torch.randint(0, spec['architecture']['vocab_size'],
                         (spec['batch_size'], (1 << 14) + 1), generator=generator)
    per_epoch = (rows.shape[1] - 1) // spec['seq_len']
    offsets = torch.tensor([(s % per_epoch) * spec['seq_len'] for s in range(steps)])
    return spec, model, {'token_rows': rows, 'window_offsets': offsets, 'learning_rates': lrs}
  n, shape = 4096, spec['input_shape']
  if spec['model'] == 'textcnn':
    inputs = torch.randint(2, spec['architecture']['vocab_size'], (n, *shape),
                           generator=generator)
  else:
    inputs = torch.randn((n, *shape), generator=generator)
  labels = torch.randint(0, spec['architecture']['num_classes'], (n,), generator=generator)
  batch_rows = torch.randint(0, n, (steps, spec['batch_size']), generator=generator)
  return spec, model, {'inputs': inputs, 'labels': labels, 'batch_rows': batch_rows,
                       'learning_rates': lrs}
