"""Optimizers and schedules from config (known answers)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from research import config_lib, optim


def make_config(name='sgd', schedule='constant', lr=0.1, warmup=0, end_factor=0.0,
                boundaries=(), **opt):
  return ml_collections.ConfigDict(dict(
      optimizer=config_lib.optimizer(name, lr, **opt),
      schedule=config_lib.schedule(schedule, warmup_steps=warmup, end_factor=end_factor,
                                   boundaries=boundaries)))


def test_sgd_update_is_minus_lr_times_grad():
  tx, _ = optim.make_optimizer(make_config(lr=0.1), total_steps=10)
  params = {'w': jnp.array([1.0, -2.0])}
  updates, _ = tx.update({'w': jnp.array([0.5, 1.0])}, tx.init(params), params)
  np.testing.assert_allclose(updates['w'], [-0.05, -0.1])


def test_momentum_accumulates():
  tx, _ = optim.make_optimizer(make_config('momentum', lr=1.0), total_steps=10)
  params = {'w': jnp.zeros(1)}
  state = tx.init(params)
  g = {'w': jnp.ones(1)}
  u1, state = tx.update(g, state, params)
  u2, state = tx.update(g, state, params)
  np.testing.assert_allclose([u1['w'][0], u2['w'][0]], [-1.0, -1.9], rtol=1e-6)


@pytest.mark.parametrize('name', optim.OPTIMIZERS)
def test_every_optimizer_descends_a_quadratic(name):
  # Adadelta's steps start at ~sqrt(eps) and grow: lr 1 (Zeiler 2012; Kim 2014), more steps.
  lr, steps = (1.0, 2000) if name == 'adadelta' else (0.1, 100)
  tx, _ = optim.make_optimizer(make_config(name, lr=lr, weight_decay=1e-4), total_steps=steps)
  params = jnp.array([3.0, -2.0])
  state = tx.init(params)
  objective = lambda p: jnp.sum(p ** 2)

  @jax.jit
  def step(params, state):
    # As the train step calls every optimizer (L-BFGS's line search needs the
    # value and a way to re-evaluate it; the others ignore them).
    updates, state = tx.update(2 * params, state, params, value=objective(params),
                               grad=2 * params, value_fn=objective)
    return params + updates, state

  for _ in range(steps):
    params, state = step(params, state)
  assert float(objective(params)) < 0.5


def test_warmup_then_cosine():
  _, schedule = optim.make_optimizer(
      make_config('adam', 'cosine', lr=1.0, warmup=10, end_factor=0.1), total_steps=110)
  assert float(schedule(0)) == 0.0
  assert float(schedule(5)) == pytest.approx(0.5)
  assert float(schedule(10)) == pytest.approx(1.0)
  assert float(schedule(60)) == pytest.approx(0.55, rel=1e-5)  # halfway down the cosine
  assert float(schedule(110)) == pytest.approx(0.1)


def test_linear_and_constant():
  _, lin = optim.make_optimizer(make_config(schedule='linear', lr=2.0), total_steps=100)
  assert float(lin(50)) == pytest.approx(1.0)
  _, const = optim.make_optimizer(make_config(lr=0.3), total_steps=100)
  assert float(const(0)) == float(const(99)) == pytest.approx(0.3)


def test_grad_clipping():
  tx, _ = optim.make_optimizer(make_config(lr=1.0, grad_clip_norm=1.0), total_steps=1)
  params = jnp.zeros(2)
  updates, _ = tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)
  np.testing.assert_allclose(updates, [-0.6, -0.8], rtol=1e-6)


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
  # He et al. 2016 (CIFAR): lr 0.1, /10 at 32k and 48k of 64k iterations.
  _, schedule = optim.make_optimizer(
      make_config('momentum', 'step', lr=0.1, boundaries=(0.5, 0.75)), total_steps=64000)
  assert float(schedule(31999)) == pytest.approx(0.1)
  assert float(schedule(32000)) == pytest.approx(0.01)
  assert float(schedule(48000)) == pytest.approx(0.001)
