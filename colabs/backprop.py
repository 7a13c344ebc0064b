# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # classicnets demo: backpropagation by hand, checked against `jax.grad`
#
# Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors"
# (Nature 323, 1986), showed that the gradient of a multilayer network's loss can be
# computed layer by layer, last layer first, by the chain rule: the "generalised delta
# rule". With z_l = a_{l-1} W_l + b_l, a_l = f(z_l) and softmax cross-entropy averaged
# over a batch of B:
#
# - δ_L = ∂L/∂z_L = (softmax(z_L) − onehot(y)) / B
# - ∂L/∂W_l = a_{l-1}ᵀ δ_l and ∂L/∂b_l = Σ_batch δ_l
# - δ_{l-1} = (δ_l W_lᵀ) ⊙ f′(z_{l-1})
#
# `research.demos.backprop` writes this out by hand for the project's own `MLP` params
# and compares it with reverse-mode autodiff (`jax.grad`) on 2-, 3- and 4-layer nets
# with tanh, ReLU and sigmoid units. Backprop *is* reverse-mode differentiation, so the
# two must agree to float32 rounding.
#
# Runs as is on a Colab CPU, GPU or TPU runtime (the first cell installs the project).

# %%
# Setup. In Colab: fetch this project once per runtime and install what the runtime lacks
# (colabs/install.sh keeps Colab's own JAX and TensorFlow). Elsewhere: a checkout after
# `pip install -e .`. Workdirs under /content vanish with the runtime: to keep them, mount
# Drive (`from google.colab import drive; drive.mount('/content/drive')`) and set
# CLASSICNETS_RUNS=/content/drive/MyDrive/classicnets-runs before this cell.
import os
import subprocess
import sys

REPO = 'https://github.com/classicnets/classicnets'  # = pyproject.toml [project.urls]
if 'google.colab' in sys.modules:
  checkout = os.environ.get('CLASSICNETS_CHECKOUT', '/content/classicnets')
  if not os.path.isdir(checkout):
    subprocess.run(['git', 'clone', '--depth=1', os.environ.get('CLASSICNETS_REPO', REPO),
                    checkout], check=True)
    subprocess.run(['bash', os.path.join(checkout, 'colabs', 'install.sh'), sys.executable],
                   check=True)
  sys.path.insert(0, checkout)
from research import notebook

SMOKE, RUNS = notebook.setup()  # cwd: the repository root; SMOKE: small data, few steps (CI)

# %% [markdown]
# ## The demo
#
# For each net, `run` compares the hand-written forward pass with `MLP.apply` and every
# gradient leaf with `jax.grad`; `plot` scatters the two kernel gradients against each
# other (all points on the diagonal).

# %%
from research.demos import backprop

result = backprop.run(small=SMOKE)
print(result.describe())
notebook.show(backprop.plot(result, os.path.join(RUNS, 'backprop.png')))
for check in result.checks:
  assert check['forward_max_abs_diff'] < 1e-6 and check['grad_max_abs_diff'] < 1e-6, check

# %% [markdown]
# ## The backward pass, written out
#
# `forward` caches each layer's input a_{l-1} and pre-activation z_l; `backward` is the
# three equations above in a loop, last layer first, with f′ written by hand in
# `backprop.DERIVATIVES`. Note what it never does: form a Jacobian. Each step is one
# matrix product with the batch of deltas, so the backward pass costs about as much as
# the forward one.

# %%
import inspect

print(inspect.getsource(backprop.forward))
print(inspect.getsource(backprop.backward))

# %% [markdown]
# ## One layer's numbers
#
# An 8-16-3 tanh net on a batch of 4: the first (hidden) layer's kernel gradient, whose
# delta has been carried back through every layer, by hand and by
# `jax.grad`, entry for entry; then a third, independent check of one weight by a
# central finite difference (L(w+ε) − L(w−ε)) / 2ε.

# %%
import jax
import jax.numpy as jnp
import numpy as np

sizes, activation = (8, 16, 3), 'tanh'
k_init, k_x, k_y = jax.random.split(jax.random.key(0), 3)
x = jax.random.normal(k_x, (4, sizes[0]))
y = jax.random.randint(k_y, (4,), 0, sizes[-1])
params = backprop.make_mlp(sizes, activation).init(k_init, x)['params']

hand = backprop.backward(params, x, y, activation)['hidden_0']['kernel']  # 8 x 16
auto = jax.grad(backprop.loss)(params, x, y, activation)['hidden_0']['kernel']
np.set_printoptions(precision=6, suppress=True)
print('by hand, top-left 4 x 4:\n', np.asarray(hand[:4, :4]))
print('jax.grad, top-left 4 x 4:\n', np.asarray(auto[:4, :4]))
print(f'max |difference| over all {hand.size} entries: {float(jnp.abs(hand - auto).max()):.1e}')
np.testing.assert_allclose(hand, auto, atol=1e-6)

eps = 1e-2
def loss_at(delta):  # the loss with one weight, hidden_0/kernel[0, 0], moved by delta
  kernel = params['hidden_0']['kernel'].at[0, 0].add(delta)
  moved = {**params, 'hidden_0': {**params['hidden_0'], 'kernel': kernel}}
  return float(backprop.loss(moved, x, y, activation))
numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
print(f'dL/dW[0, 0]: by hand {float(hand[0, 0]):.6f}, finite difference {numeric:.6f}')
assert abs(numeric - float(hand[0, 0])) < 1e-4
