"""Universal approximation: one hidden layer of growing width fits a continuous
function on [-1, 1] ever more closely.

Cybenko (1989) and Hornik, Stinchcombe & White (1989): one hidden layer of
sigmoidal units can approximate any continuous function on a compact set to
any accuracy, given enough units; Leshno et al. (1993) extend this to any
non-polynomial activation, ReLU included. With ReLU units the network is
piecewise linear with at most one breakpoint per unit, which the fits show.
The theorem says such weights exist, not that gradient descent finds them, so
each width is trained from several seeds and the best fit is reported. Every
(width, seed) network trains in one vmapped program (see `init_padded`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from research import plots
from research.demos import common
from research.models.mlp import MLP

TARGET_NAME = 'sin(3x) + 0.3 x^2 - 0.5 |x|'


def target(x):
  # A smooth oscillation plus a kink at 0 (|x|): nothing a few units draw
  # matches both the curvature and the corner.
  return jnp.sin(3 * x) + 0.3 * x ** 2 - 0.5 * jnp.abs(x)


@dataclasses.dataclass(frozen=True)
class Settings:
  widths: tuple[int, ...]
  num_train: int      # evenly spaced training points on [-1, 1]
  num_test: int       # dense test grid on [-1, 1]
  num_seeds: int      # initialisations per width; the best is reported
  steps: int
  learning_rate: float


DEFAULT = Settings(widths=(1, 2, 4, 8, 16, 32, 64), num_train=256, num_test=2001, num_seeds=4,
                   steps=4000, learning_rate=0.01)
SMALL = Settings(widths=(1, 4, 16, 64), num_train=128, num_test=501, num_seeds=2, steps=1500,
                 learning_rate=0.01)


@dataclasses.dataclass
class Result:
  settings: Settings
  seed: int
  max_abs_error: dict[int, float]   # width -> max |f - net| on the test grid (best seed)
  rms_error: dict[int, float]       # width -> RMS error on the test grid (best seed)
  x_test: np.ndarray                # N
  y_test: np.ndarray                # N, the target
  fits: dict[int, np.ndarray]       # width -> N, the best seed's network

  def summary(self) -> dict:
    return {'settings': dataclasses.asdict(self.settings), 'seed': self.seed,
            'target': TARGET_NAME,
            'max_abs_error': {str(w): e for w, e in self.max_abs_error.items()},
            'rms_error': {str(w): e for w, e in self.rms_error.items()}}

  def describe(self) -> str:
    return '\n'.join([f'fitting {TARGET_NAME} on [-1, 1]: width  max|err|  rms'] + [
        f'{w:5d}  {self.max_abs_error[w]:.4f}  {self.rms_error[w]:.4f}'
        for w in self.settings.widths])


def init_padded(width: int, max_width: int, key):
  """A width-`width` network's initial params, zero-padded to `max_width` units.

  The extra units stay exactly zero in training: with zero in- and out-weights
  a ReLU unit outputs relu(0) = 0 and gets zero gradients (JAX takes relu'(0)
  = 0), and Adam turns zero gradients into zero updates. So one width-
  `max_width` program trains every width, vmapped, with one compile.
  """
  params = MLP(num_classes=1, hidden_sizes=(width,), activation='relu').init(
      key, jnp.zeros((1, 1)))['params']
  pad = max_width - width
  return {'hidden_0': {'kernel': jnp.pad(params['hidden_0']['kernel'], ((0, 0), (0, pad))),
                       'bias': jnp.pad(params['hidden_0']['bias'], (0, pad))},
          'out': {'kernel': jnp.pad(params['out']['kernel'], ((0, pad), (0, 0))),
                  'bias': params['out']['bias']}}


@functools.partial(jax.jit, static_argnums=0)
def fit_all(settings: Settings, key, x_train_N, x_test_M):
  """Trains `num_seeds` networks of every width; returns their predictions on
  the test grid, widths x seeds x M."""
  max_width = max(settings.widths)
  model = MLP(num_classes=1, hidden_sizes=(max_width,), activation='relu')
  keys_S = jax.random.split(key, settings.num_seeds)
  params_WxS = [jax.vmap(functools.partial(init_padded, w, max_width))(keys_S)
                for w in settings.widths]
  params_WxS = jax.tree.map(lambda *leaves: jnp.stack(leaves), *params_WxS)
  fit = lambda p: common.fit(model, p, x_train_N[:, None], target(x_train_N),
                             loss_fn=common.squared_error, steps=settings.steps,
                             learning_rate=settings.learning_rate)[0]
  predict = lambda p: model.apply({'params': fit(p)}, x_test_M[:, None])[:, 0]
  return jax.vmap(jax.vmap(predict))(params_WxS)


def run(*, small: bool = False, seed: int = 0) -> Result:
  settings = SMALL if small else DEFAULT
  x_test = jnp.linspace(-1, 1, settings.num_test)
  y_test = target(x_test)
  preds_WxSxM = fit_all(settings, jax.random.key(seed),
                        jnp.linspace(-1, 1, settings.num_train), x_test)
  rms_WxS = jnp.sqrt(jnp.mean((preds_WxSxM - y_test) ** 2, axis=-1))
  result = Result(settings, seed, {}, {}, np.asarray(x_test), np.asarray(y_test), {})
  for width, preds_SxM, rms_S in zip(settings.widths, preds_WxSxM, rms_WxS):
    best = int(jnp.argmin(rms_S))
    result.rms_error[width] = float(rms_S[best])
    result.max_abs_error[width] = float(jnp.max(jnp.abs(preds_SxM[best] - y_test)))
    result.fits[width] = np.asarray(preds_SxM[best])
  return result


def plot(result: Result, path: str) -> str:
  """Left: the target and each width's fit. Right: test error vs width, log-log."""
  plt = plots.figures()
  fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_fit.plot(result.x_test, result.y_test, 'k', lw=3, alpha=0.3, label='target')
  colours = plt.cm.viridis(np.linspace(0, 0.9, len(result.fits)))
  for colour, (width, fit) in zip(colours, result.fits.items()):
    ax_fit.plot(result.x_test, fit, color=colour, lw=1, label=f'width {width}')
  ax_fit.set(xlabel='x', title=TARGET_NAME)
  ax_fit.legend(fontsize=7)
  widths = list(result.rms_error)
  ax_err.loglog(widths, list(result.max_abs_error.values()), 'o-', label='max |error|')
  ax_err.loglog(widths, list(result.rms_error.values()), 's-', label='RMS error')
  ax_err.set(xlabel='hidden units', ylabel='test error', title='one hidden layer (ReLU)')
  ax_err.set_xticks(widths, [str(w) for w in widths])
  for ax in (ax_fit, ax_err):
    ax.grid(alpha=0.3)
  ax_err.legend()
  return common.save_figure(fig, path)
