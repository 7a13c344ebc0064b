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

The teacher is read, never written: the workdir of a finished 'classification'
(or 'distillation') run. Its config.json names its model
(`research.models.MODELS`), and its latest checkpoint gives its params and
model state (e.g. batch-norm statistics). It runs in eval mode (no dropout,
running statistics) on exactly the student's (augmented) batch. Its variables
are not part of the student's TrainState: they reach the compiled step as an
argument (`DistillationFeeder.make_train_fn`), so they are never updated, never
saved in the student's checkpoints, and not baked into the compiled program
as constants. The student's workdir records which teacher it learned from
(teacher.json: the teacher's workdir, step and a hash of its variables), and
a resumed run must find the same teacher. Every way a teacher can fail to fit
the student (missing, unfinished, not a classifier, other data, other
preprocessing, another number of classes, inputs it cannot read) is a
one-line ConfigError raised by `check_config` or `make_feeder`, i.e. before
`research.train` writes anything into the student's workdir. A distilled
student is a classifier too, so it may teach the next generation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from research import errors, parallel, writers
from research.data import augment
from research.data.registry import DATASETS
from research.tasks import classification
from research.train_state import TrainState

# What distillation shares with classification (the names `research.train`
# asks every task for; see research/tasks/__init__.py).
MODELS = classification.MODELS
DATA_MODEL_FIELDS = classification.DATA_MODEL_FIELDS
BEST_DURING_TRAINING = classification.BEST_DURING_TRAINING
state_shardings = classification.state_shardings
init_variables = classification.init_variables
bind_eval_step = classification.bind_eval_step
summarize_eval = classification.summarize_eval
plot_run = classification.plot_run

# The hard-label term of the objective (and the reported test loss).
HARD_LOSS = 'softmax_cross_entropy'

# Runs whose workdir holds a classifier (config.json + params) that may teach.
TEACHER_TASKS = ('classification', 'distillation')


# --- The objective ----------------------------------------------------------


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


# --- The train step ---------------------------------------------------------


def train_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    teacher_variables: dict[str, Any],
    *,
    apply_fn: Callable[..., Any],
    teacher_apply_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    rng: jax.Array,
    temperature: float,
    soft_weight: float,
) -> tuple[TrainState, dict[str, jax.Array]]:
  """One update of the student on `batch` = {'image': BxHxWxC, 'label': B};
  `teacher_variables` ({'params': ..., other collections}) are read only."""
  # The same dropout keys as classification.train_step: at soft_weight 0 a
  # distillation run takes exactly the steps of the classification run.
  step_rng = jax.random.fold_in(rng, state.step)
  # The teacher in eval mode, and a constant of the objective.
  teacher_logits_BxK = jax.lax.stop_gradient(
      teacher_apply_fn(teacher_variables, batch['image'], train=False))

  def objective(params):
    logits_BxK, new_model_state = classification._apply(
        apply_fn, params, state.model_state, batch['image'], train=True, rng=step_rng)
    loss_B = distillation_loss(logits_BxK, teacher_logits_BxK, batch['label'],
                               temperature=temperature, soft_weight=soft_weight)
    return loss_B.mean(), (logits_BxK, new_model_state)

  (loss, (logits_BxK, new_model_state)), grads = jax.value_and_grad(
      objective, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  predicted_B = jnp.argmax(logits_BxK, -1)
  teacher_predicted_B = jnp.argmax(teacher_logits_BxK, -1)
  metrics = {
      'loss': loss,
      'accuracy': jnp.mean(predicted_B == batch['label']),
      # The two terms of the objective, unweighted: the hard one is what
      # test_loss measures on the test set.
      'hard_loss': jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
          logits_BxK, batch['label'])),
      'soft_loss': jnp.mean(soft_target_loss(
          logits_BxK, teacher_logits_BxK, temperature=temperature)),
      'teacher_accuracy': jnp.mean(teacher_predicted_B == batch['label']),
      'teacher_agreement': jnp.mean(predicted_B == teacher_predicted_B),
      'learning_rate': schedule(state.step),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
  }
  new_state = state.replace(
      step=state.step + 1, params=params, opt_state=opt_state,
      model_state=new_model_state)
  return new_state, metrics


def bind_train_step(config, model, tx, schedule, rng) -> Callable:
  """(state, batch, teacher_variables) -> (state, metrics): augmentation (the
  teacher sees the same augmented images), then `train_step`. The feeder of
  this task (`make_feeder`) supplies teacher_variables."""
  teacher_config = read_teacher_config(config)
  teacher_model = build_teacher_model(teacher_config, num_classes=model.num_classes)
  # The same split as classification.bind_train_step.
  dropout_rng, augment_rng = jax.random.split(rng)
  step = functools.partial(
      train_step, apply_fn=model.apply, teacher_apply_fn=teacher_model.apply, tx=tx,
      schedule=schedule, rng=dropout_rng, temperature=float(config.distill.temperature),
      soft_weight=float(config.distill.soft_weight))
  augment_fn = functools.partial(augment.apply, config=config.augment, rng=augment_rng)
  return lambda state, batch, teacher_variables: step(
      state, augment_fn(batch, state.step), teacher_variables)


# --- The teacher ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Teacher:
  workdir: str
  config: ml_collections.ConfigDict  # its config.json
  model: nn.Module
  variables: dict[str, Any]          # {'params': ..., 'batch_stats': ...}, on the mesh
  step: int                          # the checkpoint read
  sha256: str                        # of the variables' bytes (teacher.json)


def _train_first_hint(config) -> str:
  teacher_config = config.distill.get('teacher_config') or 'configs/NAME.py:ARG'
  return (f'train the teacher first with: python -m launch.train --config={teacher_config} '
          f'--workdir={config.distill.teacher_workdir}')


def _latest_step(workdir: str) -> int | None:
  import orbax.checkpoint as ocp

  directory = os.path.join(os.path.abspath(workdir), 'checkpoints')
  if not os.path.isdir(directory):
    return None
  # Reading only: nothing is created (and saves are never called).
  manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))
  try:
    return manager.latest_step()
  finally:
    manager.close()


def read_teacher_config(config) -> ml_collections.ConfigDict:
  """The teacher workdir's config.json, once the workdir holds a finished
  classifier's run (config.json, results.json and a checkpoint)."""
  workdir = config.distill.teacher_workdir
  if workdir is None or not os.path.isdir(workdir):
    raise errors.ConfigError(
        f'distill.teacher_workdir {workdir!r} does not exist; {_train_first_hint(config)}.')
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} has no config.json (not a launch.train workdir); '
        f'{_train_first_hint(config)}.')
  with open(path, encoding='utf-8') as f:
    teacher_config = ml_collections.ConfigDict(json.load(f))
  if teacher_config.get('task') not in TEACHER_TASKS:
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} holds a {teacher_config.get("task")!r} run; the '
        f'teacher must be a classifier (a run of task {" or ".join(map(repr, TEACHER_TASKS))}).')
  if teacher_config.model.name not in MODELS:
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} uses model {teacher_config.model.name!r}, which '
        f'research.models.MODELS does not know.')
  if not os.path.exists(os.path.join(workdir, 'results.json')) or _latest_step(workdir) is None:
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} holds no finished run (results.json and a checkpoint); '
        f'{_train_first_hint(config)} (re-running it resumes an interrupted run).')
  return teacher_config


def data_identity(dataset_name: str) -> str:
  """Datasets that are the same examples under another builder share an
  identity: the project's IDX builders read the files TFDS's public builders
  are made from (`fashion_mnist_idx` and `fashion_mnist` are both
  'fashion_mnist'), so a teacher trained from either teaches a student reading
  either."""
  spec = DATASETS.get(dataset_name)
  if spec is not None and spec.tfds_name.startswith('mnist_idx/'):
    return spec.tfds_name.split('/', 1)[1]
  return dataset_name


def _as_json(node) -> Any:
  """A config node as it is written to config.json (tuples become lists)."""
  return json.loads(node.to_json_best_effort()) if hasattr(node, 'to_json_best_effort') else node


def check_teacher_data(config, teacher_config) -> None:
  """The teacher must have learned from the student's data, preprocessed the
  same way: it labels the student's (preprocessed, augmented) inputs."""
  workdir = config.distill.teacher_workdir
  teacher_data, student_data = teacher_config.dataset.name, config.dataset.name
  if data_identity(teacher_data) != data_identity(student_data):
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} was trained on {teacher_data!r}, but the student '
        f'reads {student_data!r}; distillation needs a teacher trained on the same data.')
  teacher_preprocess = _as_json(teacher_config.preprocess)
  student_preprocess = _as_json(config.preprocess)
  if teacher_preprocess != student_preprocess:
    changed = sorted(k for k in set(teacher_preprocess) | set(student_preprocess)
                     if teacher_preprocess.get(k) != student_preprocess.get(k))
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} preprocessed its inputs differently (preprocess.'
        f'{", preprocess.".join(changed)}: teacher '
        f'{[teacher_preprocess.get(k) for k in changed]}, student '
        f'{[student_preprocess.get(k) for k in changed]}); the teacher must see inputs '
        'prepared as in its training.')


def build_teacher_model(teacher_config, *, num_classes: int) -> nn.Module:
  """The teacher's module, from its config.json (lists back to tuples)."""
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in teacher_config.model.items() if k != 'name'}
  return MODELS[teacher_config.model.name](num_classes=num_classes, **kwargs)


def restore_teacher_variables(workdir: str) -> tuple[int, dict[str, Any]]:
  """(step, {'params': ..., other collections}) of the workdir's latest
  checkpoint as host arrays; the optimizer state is not kept."""
  import orbax.checkpoint as ocp

  step = _latest_step(workdir)
  path = os.path.join(os.path.abspath(workdir), 'checkpoints', str(step), 'state')
  saved = ocp.StandardCheckpointer().restore(path)
  variables = {'params': saved['params'], **(saved.get('model_state') or {})}
  return step, jax.tree.map(np.asarray, variables)


def _first_line(e: Exception) -> str:
  lines = str(e).strip().splitlines()
  return f'{type(e).__name__}: {lines[0] if lines else ""}'.split(' (https://')[0]


def _classes_in_checkpoint(teacher_config, variables, input_shape) -> int | None:
  """The teacher's number of outputs, read off its checkpoint: the leaves
  whose shapes depend on num_classes (found by initialising its model for 2
  and 3 classes) give it. None where the model cannot even be initialised on
  these inputs."""
  inputs = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  shapes = []
  for k in (2, 3):
    model = build_teacher_model(teacher_config, num_classes=k)
    try:
      abstract = jax.eval_shape(functools.partial(model.init, train=False),
                                jax.random.key(0), inputs)
    except Exception:  # Whatever the model raises: the count is unknown.
      return None
    shapes.append(jax.tree_util.tree_flatten_with_path(abstract)[0])
  saved = {jax.tree_util.keystr(p): np.shape(x)
           for p, x in jax.tree_util.tree_flatten_with_path(variables)[0]}
  for (path, two), (_, three) in zip(*shapes):
    if two.shape != three.shape:
      axis = next(a for a, (m, n) in enumerate(zip(two.shape, three.shape)) if m != n)
      got = saved.get(jax.tree_util.keystr(path))
      if got is None or len(got) != len(two.shape):
        return None
      return got[axis] - two.shape[axis] + 2
  return None


def check_teacher_fits(teacher_config, variables, *, num_classes: int,
                       input_shape: tuple[int, ...], workdir: str) -> None:
  """Applies the teacher to one abstract batch of the student's inputs
  (`jax.eval_shape`: no computation) and checks it outputs num_classes logits."""
  model = build_teacher_model(teacher_config, num_classes=num_classes)
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), variables)
  inputs = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  try:
    logits = jax.eval_shape(functools.partial(model.apply, train=False), abstract, inputs)
  except Exception as e:  # Whatever the model raises is reported, in one line.
    teacher_classes = _classes_in_checkpoint(teacher_config, variables, input_shape)
    if teacher_classes is not None and teacher_classes != num_classes:
      raise errors.ConfigError(
          f'Teacher workdir {workdir!r} outputs {teacher_classes} classes, but the '
          f'student\'s data has {num_classes}.') from e
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} ({teacher_config.model.name}) cannot read the '
        f'student\'s inputs of shape {tuple(input_shape)}: {_first_line(e)}') from e
  if tuple(logits.shape) != (1, num_classes):
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} gives logits of shape {tuple(logits.shape[1:])} for one '
        f'input, not ({num_classes},) (the student\'s classes).')


def load_teacher(config, *, num_classes: int, input_shape: tuple[int, ...], mesh) -> Teacher:
  """The checked teacher, its variables replicated over `mesh`."""
  workdir = config.distill.teacher_workdir
  teacher_config = read_teacher_config(config)
  check_teacher_data(config, teacher_config)
  step, variables = restore_teacher_variables(workdir)
  check_teacher_fits(teacher_config, variables, num_classes=num_classes,
                     input_shape=input_shape, workdir=workdir)
  digest = hashlib.sha256()
  for path, x in jax.tree_util.tree_flatten_with_path(variables)[0]:
    digest.update(jax.tree_util.keystr(path).encode())
    digest.update(np.ascontiguousarray(x).tobytes())
  return Teacher(
      workdir=workdir, config=teacher_config,
      model=build_teacher_model(teacher_config, num_classes=num_classes),
      variables=jax.tree.map(lambda x: parallel.replicate(x, mesh), variables), step=step,
      sha256=digest.hexdigest())


# --- Feeding ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TeacherBound:
  """A jitted or compiled train function `(state, teacher_variables, *feeder
  args)` called as `(state, *feeder args)`, like every feeder's train
  function; `lower(...).compile()` gives a compiled one (launch.benchmark)."""
  fn: Any
  teacher_variables: Any

  def __call__(self, state, *args):
    return self.fn(state, self.teacher_variables, *args)

  def lower(self, state, *args):
    lowered = self.fn.lower(state, self.teacher_variables, *args)
    return _LoweredWithTeacher(lowered, self.teacher_variables)


@dataclasses.dataclass(frozen=True)
class _LoweredWithTeacher:
  lowered: Any
  teacher_variables: Any

  def compile(self) -> TeacherBound:
    return TeacherBound(self.lowered.compile(), self.teacher_variables)


class DistillationFeeder:
  """The classification feeder of the student's data, plus the teacher.

  Everything is the wrapped feeder's except `make_train_fn`: the step (from
  `bind_train_step`) takes the teacher's variables as a third argument, and
  the compiled train function passes them in on every call. They are an
  argument rather than a closure because jit bakes closed-over arrays into
  the program as constants (megabytes of HLO for an MLP teacher)."""

  def __init__(self, base, teacher: Teacher):
    self.base = base
    self.teacher = teacher

  def __getattr__(self, name):
    if name == 'base':  # Not set yet (e.g. during copying): no recursion.
      raise AttributeError(name)
    return getattr(self.base, name)

  def sync_workdir(self, workdir: str) -> None:
    """Records the teacher in the student's workdir (teacher.json); a resumed
    run must find the same teacher there, as a resumed text run must find the
    same vocabulary: a teacher trained further since would change the math."""
    self.base.sync_workdir(workdir)
    record = {'workdir': os.path.abspath(self.teacher.workdir), 'step': self.teacher.step,
              'model': self.teacher.config.model.name, 'sha256': self.teacher.sha256}
    path = os.path.join(workdir, 'teacher.json')
    if os.path.exists(path):
      with open(path, encoding='utf-8') as f:
        old = json.load(f)
      if old['sha256'] != record['sha256']:
        raise errors.ConfigError(
            f'Workdir {workdir!r} was distilled from the teacher {old["workdir"]!r} at step '
            f'{old["step"]}; the teacher now read ({record["workdir"]!r}, step '
            f'{record["step"]}) has other variables. Use a new --workdir, or that teacher.')
    elif jax.process_index() == 0:
      with open(path, 'w', encoding='utf-8') as f:
        json.dump(record, f, indent=2, sort_keys=True)

  def make_train_fn(self, step_fn: Callable, state_shardings) -> TeacherBound:
    """(state, *feeder args) -> (state, metrics), donating state: the wrapped
    feeder's jitted train function, called inside one that takes the
    teacher's variables as an argument."""

    def train_fn(state, teacher_variables, *args):
      def student_step(student_state, batch):
        return step_fn(student_state, batch, teacher_variables)

      return self.base.make_train_fn(student_step, state_shardings)(state, *args)

    return TeacherBound(jax.jit(train_fn, donate_argnums=(0,)), self.teacher.variables)


def make_feeder(config, mesh) -> DistillationFeeder:
  """The student's data (classification's feeder) and the teacher, checked
  against that data: `research.train` calls this before it writes anything."""
  base = classification.make_feeder(config, mesh)
  teacher = load_teacher(config, num_classes=base.num_classes,
                         input_shape=tuple(base.input_shape), mesh=mesh)
  writers.log(f'Teacher: {teacher.config.model.name} from {teacher.workdir} '
              f'(step {teacher.step}), T={config.distill.temperature}, '
              f'soft_weight={config.distill.soft_weight}.')
  return DistillationFeeder(base, teacher)


# --- Config -----------------------------------------------------------------


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
  check_teacher_data(config, read_teacher_config(config))
