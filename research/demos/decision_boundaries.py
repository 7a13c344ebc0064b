"""Decision boundaries: a linear classifier, a two-layer network and a deeper
MLP on XOR, two moons and two spirals.

XOR is Minsky & Papert's (1969) emblem of what a single-layer perceptron cannot
do: no line puts (-1,-1) and (1,1) on one side and (-1,1), (1,-1) on the other,
so any linear classifier gets at most 3 of its 4 points right. One hidden layer
suffices, and backprop finds it (XOR is the first example of Rumelhart, Hinton
& Williams's 1986 PDP chapter); moons and spirals need boundaries with more
bends, which more units and layers draw more easily.

Accuracies are on the training points: the question here is which boundaries a
model can draw, not how well it generalises.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from research import plots
from research.demos import common
from research.models.linear import Linear
from research.models.mlp import MLP

MODELS = {
    'linear': Linear(num_classes=2),
    'two_layer': MLP(num_classes=2, hidden_sizes=(16,), activation='tanh'),
    'deep': MLP(num_classes=2, hidden_sizes=(64, 64, 64), activation='relu'),
}
DATASETS = ('xor', 'moons', 'spirals')


@dataclasses.dataclass(frozen=True)
class Settings:
  num_points: int      # per dataset, except XOR's fixed 4
  steps: int           # full-batch Adam steps per (dataset, model)
  learning_rate: float
  grid_size: int       # mesh points per axis for the decision regions


DEFAULT = Settings(num_points=400, steps=3000, learning_rate=0.01, grid_size=200)
SMALL = Settings(num_points=200, steps=1500, learning_rate=0.01, grid_size=60)


@dataclasses.dataclass
class Result:
  settings: Settings
  seed: int
  accuracy: dict[str, dict[str, float]]         # dataset -> model -> train accuracy
  points: dict[str, tuple[np.ndarray, np.ndarray]]  # dataset -> (x_Nx2, y_N)
  mesh: dict[str, tuple[np.ndarray, np.ndarray]]    # dataset -> (xs_G, ys_G)
  prob: dict[str, dict[str, np.ndarray]]        # dataset -> model -> P(y=1) on the mesh, GxG

  def summary(self) -> dict:
    return {'settings': dataclasses.asdict(self.settings), 'seed': self.seed,
            'accuracy': self.accuracy}

  def describe(self) -> str:
    lines = ['train accuracy: ' + ' | '.join(MODELS)]
    for name, row in self.accuracy.items():
      lines.append(f'{name}: ' + ' | '.join(f'{row[m]:.3f}' for m in MODELS))
    return '\n'.join(lines)


def make_dataset(name: str, num_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(x_Nx2 float32, y_N int32), inputs roughly in [-1.5, 1.5]^2."""
  rng = np.random.default_rng(seed)
  if name == 'xor':
    x = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], np.float32)
    return x, (x[:, 0] != x[:, 1]).astype(np.int32)
  if name == 'moons':
    from sklearn.datasets import make_moons
    x, y = make_moons(num_points, noise=0.1, random_state=seed)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32), y.astype(np.int32)
  if name == 'spirals':
    # Two interleaved arms r = t, angle t (+ pi for the second), 1.75 turns,
    # sqrt-spaced in t so that points are evenly spread along the arms.
    n = num_points // 2
    t = np.sqrt(rng.uniform(size=n)) * 1.75 * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (1.75 * 2 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(scale=0.02, size=(2 * n, 2))
    return x.astype(np.float32), np.repeat([0, 1], n).astype(np.int32)
  raise ValueError(f'Unknown dataset {name!r}; choose from {DATASETS}.')


@functools.partial(jax.jit, static_argnums=(0, 1))
def train_and_predict(model, settings: Settings, key, x_Nx2, y_N, mesh_Mx2):
  """Trains `model` on (x, y); returns (accuracy on x, P(y=1) on the mesh).
  Init, training and evaluation are one compiled program."""
  params = model.init(key, x_Nx2)['params']
  params, _ = common.fit(model, params, x_Nx2, y_N, loss_fn=common.softmax_cross_entropy,
                         steps=settings.steps, learning_rate=settings.learning_rate)
  prob = lambda x_Bx2: jax.nn.softmax(model.apply({'params': params}, x_Bx2))[:, 1]
  return jnp.mean((prob(x_Nx2) > 0.5) == y_N), prob(mesh_Mx2)


def run(*, small: bool = False, seed: int = 0) -> Result:
  settings = SMALL if small else DEFAULT
  result = Result(settings, seed, accuracy={}, points={}, mesh={}, prob={})
  for name in DATASETS:
    x, y = make_dataset(name, settings.num_points, seed)
    lo, hi = x.min() - 0.5, x.max() + 0.5
    xs = ys = np.linspace(lo, hi, settings.grid_size, dtype=np.float32)
    mesh_Mx2 = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    result.points[name], result.mesh[name] = (x, y), (xs, ys)
    result.accuracy[name], result.prob[name] = {}, {}
    for model_name, model in MODELS.items():
      accuracy, prob_M = train_and_predict(model, settings, jax.random.key(seed), x, y, mesh_Mx2)
      result.accuracy[name][model_name] = float(accuracy)
      result.prob[name][model_name] = np.asarray(prob_M).reshape(len(ys), len(xs))
  return result


def plot(result: Result, path: str) -> str:
  """Rows datasets, columns models: P(class 1) over the plane, the 0.5 contour
  (the decision boundary) and the training points."""
  plt = plots.figures()
  rows, cols = len(result.prob), len(MODELS)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
  for axes_row, (name, probs) in zip(axes, result.prob.items()):
    x, y = result.points[name]
    xs, ys = result.mesh[name]
    for ax, model_name in zip(axes_row, MODELS):
      ax.contourf(xs, ys, probs[model_name], levels=np.linspace(0, 1, 11), cmap='RdBu_r',
                  alpha=0.6)
      if np.ptp(probs[model_name]) > 1e-2:
        ax.contour(xs, ys, probs[model_name], levels=[0.5], colors='k', linewidths=1)
      else:  # Linear on XOR: cross-entropy's optimum is w = 0, P = 1/2 everywhere.
        ax.text(0.5, 0.5, 'P(class 1) = 0.5 everywhere:\nno line separates XOR',
                transform=ax.transAxes, ha='center', va='center', fontsize=9)
      ax.scatter(x[:, 0], x[:, 1], c=y, cmap='RdBu_r', vmin=0, vmax=1, edgecolors='k',
                 s=60 if len(x) < 10 else 10, linewidths=0.5)
      ax.set(xticks=[], yticks=[], aspect='equal',
             title=f'{model_name} on {name}: {result.accuracy[name][model_name]:.1%}')
  return common.save_figure(fig, path)
