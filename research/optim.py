"""Optimizers and learning-rate schedules from config, all from optax."""

from __future__ import annotations

import optax

from research import config_lib

OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw')
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
  else:
    core = optax.adamw(schedule, b1=oc.b1, b2=oc.b2, weight_decay=oc.weight_decay)
  parts = []
  if oc.grad_clip_norm is not None:
    parts.append(optax.clip_by_global_norm(oc.grad_clip_norm))
  if oc.weight_decay and oc.name != 'adamw':
    # Coupled L2 (added to the gradient), as in the classic SGD papers.
    parts.append(optax.add_decayed_weights(oc.weight_decay))
  return optax.chain(*parts, core), schedule
