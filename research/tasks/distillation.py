"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the
Knowledge in a Neural Network"): a student classifier learns from a finished
classification run, the teacher, as well as from the labels.

The task is the classification task with another train step. Feeding, models,
initialisation, evaluation (test loss = cross-entropy with the labels, test
accuracy) and pictures are classification's; only the objective differs:

  loss = (1 - alpha) * CE(y, softmax(s)) + alpha * T^2 * KL(softmax(t / T) || softmax(s / T))

with student logits s, teacher logits t, labels y, temperature T =
`config.distill.temperature` and alpha = `config.distill.soft_weight`
(`distillation_loss`; the KL is the paper's cross-entropy with the soft
targets less their entropy, a constant: the same gradients).

The teacher (`research.tasks.teacher`) is a finished 'classification' (or
'distillation') run, read and checked before `research.train` writes
anything into the student's workdir; its variables are the task's constants,
an argument of every compiled step.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from research import errors, writers
from research.data.registry import DATASETS
from research.tasks import classification, teacher as teacher_lib

# The hard-label term of the objective (and the reported test loss).
HARD_LOSS = 'softmax_cross_entropy'


def soft_target_loss(student_logits_BxK: jax.Array, teacher_logits_BxK: jax.Array,
                     *, temperature: float) -> jax.Array:
  """KL(p || q) = sum_k p_k (log p_k - log q_k) per example: how far the
  student's softened distribution q = softmax(s / T) is from the teacher's soft
  targets p = softmax(t / T) (Hinton et al. 2015, eq. 1: q_i = exp(z_i / T) /
  sum_j exp(z_j / T)). It is the paper's cross-entropy with the soft targets,
  CE(p, q) = -sum_k p_k log q_k, minus the targets' own entropy H(p), which
  does not depend on the student: the same gradients, and 0 when the student
  matches the teacher (the cross-entropy never gets below H(p), about log K at
  high T)."""
  log_p_BxK = jax.nn.log_softmax(teacher_logits_BxK / temperature, axis=-1)
  log_q_BxK = jax.nn.log_softmax(student_logits_BxK / temperature, axis=-1)
  return jnp.sum(jnp.exp(log_p_BxK) * (log_p_BxK - log_q_BxK), axis=-1)


def distillation_loss(student_logits_BxK: jax.Array, teacher_logits_BxK: jax.Array,
                      labels_B: jax.Array, *, temperature: float,
                      soft_weight: float) -> jax.Array:
  """Per-example distillation objective (Hinton et al. 2015, sec. 2):

    loss_B = (1 - alpha) * CE(y, softmax(s)) + alpha * T^2 * KL(p || q)
    KL(p || q) = CE(p, q) - H(p),  p = softmax(t / T),  q = softmax(s / T)

  s: student logits, t: teacher logits, y: integer labels, T: temperature,
  alpha: soft_weight. The hard term is the ordinary softmax cross-entropy at
  temperature 1. The paper's soft term is the cross-entropy CE(p, q); its
  gradient is the KL's, since H(p) is a constant of the teacher, and the KL
  makes the loss read 0 for a perfect match instead of alpha * T^2 * H(p)
  (about 830 at T = 20, alpha = 0.9 with 10 classes, which would hide the
  progress). The soft term's gradient with respect to s is
  (softmax(s / T) - softmax(t / T)) / T (sec. 2.1, eq. 2), so it is multiplied by T^2
  to keep its size comparable to the hard term's as T changes (sec. 2: "it is
  important to multiply them by T^2 when using both hard and soft targets").
  At soft_weight 0 this is exactly softmax cross-entropy; at soft_weight 1 the
  labels are not used.
  """
  hard_B = optax.softmax_cross_entropy_with_integer_labels(student_logits_BxK, labels_B)
  soft_B = soft_target_loss(student_logits_BxK, teacher_logits_BxK, temperature=temperature)
  return (1.0 - soft_weight) * hard_B + soft_weight * temperature ** 2 * soft_B


def loss(params, model_state, batch, rngs, constants: teacher_lib.Teacher, step, *, model,
         config):
  """The student's objective on `batch` = {'image': inputs, 'label': B}, with
  the teacher (in eval mode, a constant of the objective) on the same
  augmented inputs. With the same keys as classification's objective: at
  soft_weight 0 a distillation run takes exactly the classification run's steps."""
  del step
  batch, logits_BxK, model_state = classification.training_forward(
      params, model_state, batch, rngs, model=model, config=config)
  teacher_logits_BxK = jax.lax.stop_gradient(
      constants.model.apply(constants.variables, batch['image'], train=False))
  temperature, soft_weight = float(config.distill.temperature), float(config.distill.soft_weight)
  loss_B = distillation_loss(logits_BxK, teacher_logits_BxK, batch['label'],
                             temperature=temperature, soft_weight=soft_weight)
  predicted_B = jnp.argmax(logits_BxK, -1)
  teacher_predicted_B = jnp.argmax(teacher_logits_BxK, -1)
  metrics = {
      'accuracy': jnp.mean(predicted_B == batch['label']),
      # The two terms of the objective, unweighted: the hard one is what
      # test_loss measures on the test set.
      'hard_loss': jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
          logits_BxK, batch['label'])),
      'soft_loss': jnp.mean(soft_target_loss(
          logits_BxK, teacher_logits_BxK, temperature=temperature)),
      'teacher_accuracy': jnp.mean(teacher_predicted_B == batch['label']),
      'teacher_agreement': jnp.mean(predicted_B == teacher_predicted_B),
  }
  return loss_B.mean(), (model_state, metrics)


def load_constants(config, feeder, mesh) -> teacher_lib.Teacher:
  """The teacher, checked against the student's data."""
  teacher = teacher_lib.load_teacher(config, num_classes=feeder.num_classes,
                                     input_shape=tuple(feeder.input_shape), mesh=mesh)
  writers.log(f'Teacher: {teacher.record.model} from {config.distill.teacher_workdir} '
              f'(step {teacher.record.step}), T={config.distill.temperature}, '
              f'soft_weight={config.distill.soft_weight}.')
  return teacher


def sync_workdir(workdir: str, config, feeder, constants: teacher_lib.Teacher) -> None:
  classification.sync_workdir(workdir, config, feeder, None)
  teacher_lib.sync_record(workdir, constants)


def check_config(config) -> None:
  """Classification's checks, the distill knobs, and the teacher's workdir
  (everything that needs no data; `make_feeder` checks the rest)."""
  classification.check_config(config)
  if 'distill' not in config:
    raise errors.ConfigError(
        "Task 'distillation' needs config.distill (teacher_workdir, teacher_config, "
        'temperature, soft_weight); see configs/fashion_mnist_distill.py:distilled.')
  if DATASETS[config.dataset.name].labelled_text:
    raise errors.ConfigError(
        f'Distillation reads image or signal datasets; {config.dataset.name!r} holds texts '
        '(each text run fits its own vocabulary, which a teacher would not share).')
  if config.loss != HARD_LOSS:
    raise errors.ConfigError(
        f"Task 'distillation' trains on softmax cross-entropy (loss={HARD_LOSS!r}), "
        f'not {config.loss!r}.')
  temperature, soft_weight = config.distill.temperature, config.distill.soft_weight
  if not temperature > 0:
    raise errors.ConfigError(f'distill.temperature={temperature} must be positive.')
  if not 0.0 <= soft_weight <= 1.0:
    raise errors.ConfigError(f'distill.soft_weight={soft_weight} must be in [0, 1].')
  teacher_lib.check_teacher_data(config, teacher_lib.read_teacher_config(config))


# Classification with another objective and a teacher: feeding, models,
# initialisation, evaluation (test loss = cross-entropy with the labels, test
# accuracy) and pictures are classification's.
TASK = dataclasses.replace(
    classification.TASK, name='distillation', loss=loss, check_config=check_config,
    load_constants=load_constants, sync_workdir=sync_workdir)
