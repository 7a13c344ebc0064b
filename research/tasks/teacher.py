"""The teacher of knowledge distillation: a finished classification run,
read (never written) through `research.workdir.load_run`, and checked
against the student's data before anything is written.

Its config.json names its model (`research.models.MODELS`), and its latest
checkpoint gives its params and model state (e.g. batch-norm statistics). It
runs in eval mode on exactly the student's (augmented) batch. Its variables
reach the compiled step as the task's constants, an argument of every call:
never updated, never saved in the student's checkpoints, and not baked into
the compiled program. The student's workdir records which teacher it learned
from (teacher.json: the teacher's workdir, step and a hash of its
variables), and a resumed run must find the same teacher. Every way a teacher
can fail to fit the student (missing, unfinished, not a classifier, other
data, other preprocessing, another number of classes, inputs it cannot read)
is a one-line ConfigError. A distilled student is a classifier too, so it may
teach the next generation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import errors, fileio, parallel
from research import workdir as workdir_lib
from research.data.registry import DATASETS
from research.models import MODELS

TEACHER_FILE = 'teacher.json'

# Runs whose workdir holds a classifier (config.json + params) that may teach.
TEACHER_TASKS = ('classification', 'distillation')


@dataclasses.dataclass(frozen=True)
class TeacherRecord:
  """What teacher.json says of the teacher a student learned from."""
  workdir: str
  step: int
  model: str
  sha256: str  # of the variables' bytes


@flax.struct.dataclass
class Teacher:
  """The distillation task's constants: the teacher's variables (arrays, an
  argument of the compiled step) and, static, its module and record."""
  variables: dict[str, Any]  # {'params': ..., 'batch_stats': ...}, on the mesh
  model: nn.Module = flax.struct.field(pytree_node=False)
  record: TeacherRecord = flax.struct.field(pytree_node=False)


def _train_first_hint(config) -> str:
  teacher_config = config.distill.get('teacher_config') or 'configs/NAME.py:ARG'
  return (f'train the teacher first with: python -m launch.train --config={teacher_config} '
          f'--workdir={config.distill.teacher_workdir}')



def read_teacher_config(config) -> ml_collections.ConfigDict:
  """The teacher workdir's config.json, once the workdir holds a finished
  classifier's run (config.json, results.json and a checkpoint)."""
  workdir = config.distill.teacher_workdir
  if workdir is None or not fileio.isdir(workdir):
    raise errors.ConfigError(
        f'distill.teacher_workdir {workdir!r} does not exist; {_train_first_hint(config)}.')
  if not fileio.exists(fileio.join(workdir, workdir_lib.CONFIG_FILE)):
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} has no config.json (not a launch.train workdir); '
        f'{_train_first_hint(config)}.')
  teacher_config = workdir_lib.read_config(workdir)
  if teacher_config.get('task') not in TEACHER_TASKS:
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} holds a {teacher_config.get("task")!r} run; the '
        f'teacher must be a classifier (a run of task {" or ".join(map(repr, TEACHER_TASKS))}).')
  if teacher_config.model.name not in MODELS:
    raise errors.ConfigError(
        f'Teacher workdir {workdir!r} uses model {teacher_config.model.name!r}, which '
        f'research.models.MODELS does not know.')
  if (not fileio.exists(fileio.join(workdir, workdir_lib.RESULTS_FILE))
      or workdir_lib.latest_step(workdir) is None):
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


def variables_sha256(variables) -> str:
  digest = hashlib.sha256()
  for path, x in jax.tree_util.tree_flatten_with_path(variables)[0]:
    digest.update(jax.tree_util.keystr(path).encode())
    digest.update(np.ascontiguousarray(x).tobytes())
  return digest.hexdigest()


def load_teacher(config, *, num_classes: int, input_shape: tuple[int, ...], mesh) -> Teacher:
  """The checked teacher, its variables replicated over `mesh`."""
  workdir = config.distill.teacher_workdir
  teacher_config = read_teacher_config(config)
  check_teacher_data(config, teacher_config)
  run = workdir_lib.load_run(workdir)
  variables = run.variables
  check_teacher_fits(teacher_config, variables, num_classes=num_classes,
                     input_shape=input_shape, workdir=workdir)
  record = TeacherRecord(workdir=os.fspath(fileio.absolute(workdir)), step=run.step,
                         model=teacher_config.model.name, sha256=variables_sha256(variables))
  return Teacher(variables=jax.tree.map(lambda x: parallel.replicate(x, mesh), variables),
                 model=build_teacher_model(teacher_config, num_classes=num_classes),
                 record=record)


def sync_record(workdir: str, teacher: Teacher) -> None:
  """teacher.json in the student's workdir; a resumed run must find the same
  teacher there, as a resumed text run must find the same vocabulary: a
  teacher trained further since would change the math."""
  record = dataclasses.asdict(teacher.record)

  def mismatch(old):
    if old['sha256'] == record['sha256']:
      return None
    return (f'Workdir {workdir!r} was distilled from the teacher {old["workdir"]!r} at step '
            f'{old["step"]}; the teacher now read ({record["workdir"]!r}, step '
            f'{record["step"]}) has other variables. Use a new --workdir, or that teacher.')

  workdir_lib.sync_json(workdir, TEACHER_FILE, record, mismatch)
