"""Optimizers and learning-rate schedules from config, all from optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from research import config_lib, errors

OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw', 'adadelta', 'lbfgs')
SCHEDULES = ('constant', 'cosine', 'linear', 'step')


def make_schedule(config, total_steps: int) -> optax.Schedule:
  """`schedule.name` decays `optimizer.learning_rate` over the steps that
  follow `schedule.warmup_steps` of linear warmup from 0. 'step' multiplies
  the rate by `decay_factor` at each fraction `boundaries` of those steps."""
  sc, lr = config.schedule, config.optimizer.learning_rate
  config_lib.check_choice('schedule', sc.name, dict.fromkeys(SCHEDULES))
  warmup = sc.warmup_steps
  decay_steps = max(total_steps - warmup, 1)
  if sc.name == 'constant':
    main = optax.constant_schedule(lr)
  elif sc.name == 'cosine':
    main = optax.cosine_decay_schedule(lr, decay_steps, alpha=sc.end_factor)
  elif sc.name == 'step':
    main = optax.piecewise_constant_schedule(
        lr, {int(f * decay_steps): sc.decay_factor for f in sc.boundaries})
  else:
    main = optax.linear_schedule(lr, lr * sc.end_factor, decay_steps)
  if warmup == 0:
    return main
  return optax.join_schedules(
      [optax.linear_schedule(0.0, lr, warmup), main], boundaries=[warmup])


def make_optimizer(config, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  oc = config.optimizer
  config_lib.check_choice('optimizer', oc.name, dict.fromkeys(OPTIMIZERS))
  schedule = make_schedule(config, total_steps)
  if oc.name == 'sgd':
    core = optax.sgd(schedule)
  elif oc.name == 'momentum':
    core = optax.sgd(schedule, momentum=oc.momentum, nesterov=oc.nesterov)
  elif oc.name == 'adam':
    core = optax.adam(schedule, b1=oc.b1, b2=oc.b2)
  elif oc.name == 'adadelta':  # Zeiler 2012; Kim 2014 uses rho 0.95, eps 1e-6, lr 1.
    core = optax.adadelta(schedule, rho=oc.rho, eps=oc.eps)
  elif oc.name == 'lbfgs':
    # One step = one L-BFGS iteration: the direction from the last
    # `memory_size` curvature pairs, its length from a zoom line search
    # (strong Wolfe conditions) that evaluates the objective through the
    # `value_fn` the train step passes; the learning rate scales the direction
    # (1.0: the line search alone decides).
    core = optax.lbfgs(
        schedule, memory_size=oc.memory_size,
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=oc.linesearch_steps, initial_guess_strategy='one'))
  else:
    core = optax.adamw(schedule, b1=oc.b1, b2=oc.b2, weight_decay=oc.weight_decay)
  parts = []
  if oc.grad_clip_norm is not None:
    parts.append(optax.clip_by_global_norm(oc.grad_clip_norm))
  if oc.weight_decay and oc.name != 'adamw':
    # Coupled L2 (added to the gradient), as in the classic SGD papers.
    parts.append(optax.add_decayed_weights(oc.weight_decay))
  parts.append(core)
  if oc.max_norm is not None:
    parts.append(max_norm_projection(oc.max_norm, oc.max_norm_modules))
  tx = optax.chain(*parts)
  if oc.frozen_modules:
    # Frozen parameters get no optimizer state and zero updates.
    tx = optax.multi_transform(
        {'train': tx, 'frozen': optax.set_to_zero()},
        lambda params: frozen_labels(params, oc.frozen_modules))
  return tx, schedule


def frozen_labels(params, frozen_modules) -> dict:
  """'frozen' for every leaf under a top-level name in `frozen_modules`."""
  missing = set(frozen_modules) - set(params)
  if missing:
    raise errors.ConfigError(
        f'optimizer.frozen_modules names {sorted(missing)}, which the model does not '
        f'have; its top-level parameters are {sorted(params)}.')
  return {name: jax.tree.map(lambda _, f=name in frozen_modules: 'frozen' if f else 'train', sub)
          for name, sub in params.items()}


def max_norm_projection(max_norm: float, modules) -> optax.GradientTransformation:
  """Keeps each output unit's incoming weight vector inside an L2 ball: after
  the step, a column of a `kernel` under `modules` whose norm exceeds
  `max_norm` is rescaled to norm `max_norm` (Hinton et al. 2012, "Improving
  neural networks by preventing co-adaptation"; Kim 2014, sec. 2.1: s = 3 on
  the penultimate layer). Written as an update so it chains after any
  optimizer: returns (projected params) - params."""

  def init_fn(params):
    missing = set(modules) - set(params)
    if missing:
      raise errors.ConfigError(
          f'optimizer.max_norm_modules names {sorted(missing)}, which the model does not '
          f'have; its top-level parameters are {sorted(params)}.')
    return optax.EmptyState()

  def update_fn(updates, state, params):
    def project(path, update, param):
      top, leaf = path[0].key, path[-1].key
      if top not in modules or leaf != 'kernel':
        return update
      stepped = param + update
      # A kernel is (..., inputs, outputs): one norm per output unit.
      norms = jnp.sqrt(jnp.sum(stepped ** 2, axis=tuple(range(stepped.ndim - 1)), keepdims=True))
      scale = jnp.minimum(1.0, max_norm / jnp.maximum(norms, 1e-12))
      return stepped * scale - param

    return jax.tree_util.tree_map_with_path(project, updates, params), state

  return optax.GradientTransformation(init_fn, update_fn)
