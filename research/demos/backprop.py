"""Backpropagation by hand, checked against `jax.grad`.

Rumelhart, Hinton & Williams (1986), "Learning representations by
back-propagating errors", Nature 323: 533-536. Forward, layer l computes
z_l = a_{l-1} W_l + b_l and a_l = f(z_l) (a_0 = x; the last layer has no f).
Backward, with softmax cross-entropy averaged over a batch of B:

  delta_L = dL/dz_L = (softmax(z_L) - onehot(y)) / B
  dL/dW_l = a_{l-1}^T delta_l,   dL/db_l = sum over the batch of delta_l
  delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})

The params are those of `research.models.mlp.MLP` ({'hidden_i', 'out'} each
with 'kernel' W and 'bias' b), so the hand-written forward pass is checked
against the model the training code uses, and the gradients against autodiff.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from research import plots
from research.demos import common
from research.models.common import ACTIVATIONS
from research.models.mlp import MLP

# f'(z) written out by hand for each activation the demo supports.
DERIVATIVES = {
    'tanh': lambda z: 1 - jnp.tanh(z) ** 2,
    'sigmoid': lambda z: jax.nn.sigmoid(z) * (1 - jax.nn.sigmoid(z)),
    'relu': lambda z: (z > 0).astype(z.dtype),
}

# (layer sizes input -> ... -> classes, activation): 2-, 3- and 4-layer nets.
CONFIGS = (((8, 16, 3), 'tanh'), ((8, 32, 16, 4), 'relu'), ((10, 24, 24, 12, 5), 'sigmoid'))


@dataclasses.dataclass
class Result:
  seed: int
  batch_size: int
  # One entry per config: sizes, activation, and the max |hand - autodiff| of
  # the logits (vs MLP.apply) and of every gradient leaf.
  checks: list[dict]
  # Per config: layer name -> (hand-written, jax.grad) kernel gradients.
  kernel_grads: list[dict[str, tuple[np.ndarray, np.ndarray]]]

  def summary(self) -> dict:
    return {'seed': self.seed, 'batch_size': self.batch_size, 'checks': self.checks}

  def describe(self) -> str:
    return '\n'.join(
        f"{'-'.join(map(str, c['sizes']))} {c['activation']}: max |logits - MLP.apply| "
        f"{c['forward_max_abs_diff']:.2e}, max |hand grad - jax.grad| {c['grad_max_abs_diff']:.2e}"
        for c in self.checks)


def layer_names(params) -> list[str]:
  """Layers in forward order: hidden_0, hidden_1, ..., out."""
  hidden = sorted((k for k in params if k.startswith('hidden_')),
                  key=lambda k: int(k.removeprefix('hidden_')))
  return hidden + ['out']


def make_mlp(sizes, activation: str) -> MLP:
  return MLP(num_classes=sizes[-1], hidden_sizes=tuple(sizes[1:-1]), activation=activation)


def forward(params, x_BxD, activation: str):
  """Logits and, per layer, the (input a_{l-1}, pre-activation z_l) the
  backward pass needs."""
  act = ACTIVATIONS[activation]
  names = layer_names(params)
  a, cache = x_BxD, []
  for i, name in enumerate(names):
    z = a @ params[name]['kernel'] + params[name]['bias']
    cache.append((a, z))
    a = z if i == len(names) - 1 else act(z)
  return a, cache


def loss(params, x_BxD, y_B, activation: str):
  logits_BxK, _ = forward(params, x_BxD, activation)
  return common.softmax_cross_entropy(logits_BxK, y_B)


def backward(params, x_BxD, y_B, activation: str):
  """dL/dparams by the delta rule, last layer first; same pytree as params."""
  logits_BxK, cache = forward(params, x_BxD, activation)
  num_classes = logits_BxK.shape[-1]
  delta = (jax.nn.softmax(logits_BxK) - jax.nn.one_hot(y_B, num_classes)) / len(y_B)
  grads = {}
  names = layer_names(params)
  for i in reversed(range(len(names))):
    a_prev, _ = cache[i]
    grads[names[i]] = {'kernel': a_prev.T @ delta, 'bias': delta.sum(axis=0)}
    if i > 0:
      _, z_prev = cache[i - 1]
      delta = (delta @ params[names[i]]['kernel'].T) * DERIVATIVES[activation](z_prev)
  return grads


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def hand_and_auto(sizes, activation: str, batch_size: int, key):
  """Random params and data; (hand-written, MLP.apply) logits and
  (hand-written, jax.grad) gradients. One compiled program per config: run op
  by op, the many tiny compiles cost seconds on a busy CPU."""
  k_init, k_x, k_y = jax.random.split(key, 3)
  model = make_mlp(sizes, activation)
  x = jax.random.normal(k_x, (batch_size, sizes[0]))
  y = jax.random.randint(k_y, (batch_size,), 0, sizes[-1])
  params = model.init(k_init, x)['params']
  logits = (forward(params, x, activation)[0], model.apply({'params': params}, x))
  grads = (backward(params, x, y, activation), jax.grad(loss)(params, x, y, activation))
  return logits, grads


def compare(sizes, activation: str, key, batch_size: int) -> tuple[dict, dict]:
  """The differences, summarised, and every layer's two kernel gradients."""
  (logits_hand, logits_lib), (hand, auto) = jax.device_get(
      hand_and_auto(tuple(sizes), activation, batch_size, key))
  grad_diffs = jax.tree.map(lambda h, a: float(np.max(np.abs(h - a))), hand, auto)
  check = {'sizes': list(sizes), 'activation': activation,
           'forward_max_abs_diff': float(np.max(np.abs(logits_hand - logits_lib))),
           'grad_max_abs_diff': max(jax.tree.leaves(grad_diffs)),
           'grad_max_abs': float(max(np.abs(g).max() for g in jax.tree.leaves(auto))),
           'per_leaf_max_abs_diff': grad_diffs}
  return check, {name: (hand[name]['kernel'], auto[name]['kernel']) for name in layer_names(hand)}


def run(*, small: bool = False, seed: int = 0) -> Result:
  batch_size = 16 if small else 128
  keys = jax.random.split(jax.random.key(seed), len(CONFIGS))
  checks, kernels = zip(*(compare(sizes, act, key, batch_size)
                          for (sizes, act), key in zip(CONFIGS, keys)))
  return Result(seed, batch_size, list(checks), list(kernels))


def plot(result: Result, path: str) -> str:
  """Each config's kernel gradients, hand-written against jax.grad: every
  point on the diagonal, the largest difference in the title."""
  plt = plots.figures()
  fig, axes = plt.subplots(1, len(result.checks), figsize=(4 * len(result.checks), 3.8),
                           squeeze=False)
  for ax, check, kernels in zip(axes[0], result.checks, result.kernel_grads):
    for name, (hand, auto) in kernels.items():
      ax.scatter(auto.ravel(), hand.ravel(), s=4, label=name)
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], 'k', lw=0.5)
    ax.set(xlabel='jax.grad', ylabel='by hand (delta rule)',
           title=f"{'-'.join(map(str, check['sizes']))} {check['activation']}: "
                 f"max diff {check['grad_max_abs_diff']:.1e}")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, markerscale=3)
  return common.save_figure(fig, path)
