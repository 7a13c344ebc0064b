"""Knowledge distillation (research/tasks/distillation.py): the loss, a teacher
that stays outside the student's state and unchanged, the teacher checks, and
every distillation config's runlocal variant."""

import json
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from research import errors, parallel, train, writers
from research import step as step_lib
from research.models import MLP
from research.tasks import distillation, teacher as teacher_lib
from research.train_state import TrainState
from testlib import (REPO_ROOT, file_hashes, load_config, quiet, restore_state_tree,
                     subprocess_env, write_idx_dir)


# --- The loss ---------------------------------------------------------------


def _log_probs(*probs):
  return np.log(np.asarray(probs, np.float64))


def test_distillation_loss_by_hand():
  # T = 2, alpha = 1/2. Logits T * log(p) give softmax(logits / T) = p.
  #   example 0: s = 2 log(1/4, 1/4, 1/2), t = 2 log(1/2, 1/4, 1/4), label 2.
  #     softmax(s) = (1/16, 1/16, 1/4) / (6/16) = (1/6, 1/6, 2/3): CE = log(3/2).
  #     q = (1/4, 1/4, 1/2), p = (1/2, 1/4, 1/4):
  #     KL(p || q) = 1/2 log 2 + 0 + 1/4 log(1/2) = 1/4 log 2.
  #     loss = 1/2 log(3/2) + 1/2 * 4 * 1/4 log 2 = 1/2 log 3 = 0.549306...
  #   example 1: s = 0 (q uniform), t = 2 log(1/4, 1/2, 1/4), label 0.
  #     CE = log 3; KL = sum p log(3 p) = log 3 - 3/2 log 2.
  #     loss = 1/2 log 3 + 2 (log 3 - 3/2 log 2) = 5/2 log 3 - 3 log 2 = 0.667089...
  student = np.stack([2 * _log_probs(0.25, 0.25, 0.5), np.zeros(3)]).astype(np.float32)
  teacher = np.stack([2 * _log_probs(0.5, 0.25, 0.25), 2 * _log_probs(0.25, 0.5, 0.25)])
  loss_B = distillation.distillation_loss(
      jnp.asarray(student), jnp.asarray(teacher, jnp.float32), jnp.asarray([2, 0]),
      temperature=2.0, soft_weight=0.5)
  np.testing.assert_allclose(loss_B, [0.5493061443, 0.6670891800], rtol=1e-6)


def test_soft_term_is_the_papers_cross_entropy_less_the_targets_entropy():
  rng = np.random.default_rng(0)
  student, teacher = rng.normal(0, 3, (2, 5, 4)).astype(np.float32)
  labels = rng.integers(0, 4, 5)
  temperature = 3.0
  p = jax.nn.softmax(teacher / temperature)
  log_q = jax.nn.log_softmax(student / temperature)
  cross_entropy_B = -jnp.sum(p * log_q, -1)  # Hinton et al. 2015, sec. 2.
  entropy_B = -jnp.sum(p * jnp.log(p), -1)
  loss_B = distillation.distillation_loss(student, teacher, labels,
                                          temperature=temperature, soft_weight=1.0)
  np.testing.assert_allclose(loss_B, temperature**2 * (cross_entropy_B - entropy_B),
                             rtol=1e-5, atol=1e-5)
  assert np.all(loss_B >= 0)


def test_soft_weight_zero_is_exactly_softmax_cross_entropy():
  rng = np.random.default_rng(1)
  student = jnp.asarray(rng.normal(0, 5, (8, 10)), jnp.float32)
  teacher = jnp.asarray(rng.normal(0, 50, (8, 10)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, 10, 8))
  for temperature in (1.0, 20.0):
    np.testing.assert_array_equal(
        distillation.distillation_loss(student, teacher, labels,
                                       temperature=temperature, soft_weight=0.0),
        optax.softmax_cross_entropy_with_integer_labels(student, labels))


@pytest.mark.parametrize('temperature', [1.0, 4.0, 20.0])
def test_soft_term_gradient_is_temperature_times_probability_difference(temperature):
  # d/ds [T^2 KL(softmax(t/T) || softmax(s/T))] = T (softmax(s/T) - softmax(t/T)):
  # the T^2 factor undoes the 1/T^2 shrinking of the soft gradients (sec. 2.1).
  rng = np.random.default_rng(2)
  student = jnp.asarray(rng.normal(0, 3, (6, 5)), jnp.float32)
  teacher = jnp.asarray(rng.normal(0, 3, (6, 5)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, 5, 6))
  grad = jax.grad(lambda s: distillation.distillation_loss(
      s, teacher, labels, temperature=temperature, soft_weight=1.0).sum())(student)
  expected = temperature * (jax.nn.softmax(student / temperature)
                            - jax.nn.softmax(teacher / temperature))
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)
  assert np.abs(grad).max() > 1e-3  # not trivially zero


# --- Training with a teacher ------------------------------------------------


@pytest.fixture(scope='module')
def fashion_data(tmp_path_factory):
  """Tiny Fashion-MNIST IDX files and a TFDS dir for them."""
  root = tmp_path_factory.mktemp('fashion')
  write_idx_dir(str(root / 'idx'))
  os.makedirs(root / 'tfds')
  return root


def fashion_config(variant, data_root, **overrides):
  config = quiet(load_config('fashion_mnist_distill', f'{variant},runlocal'), **overrides)
  config.dataset.manual_dir = str(data_root / 'idx')
  config.dataset.data_dir = str(data_root / 'tfds')
  return config


@pytest.fixture(scope='module')
def fashion_teacher(fashion_data):
  """A finished runlocal teacher (20 steps) on the tiny data."""
  workdir = fashion_data / 'teacher'
  train.train_and_evaluate(fashion_config('teacher', fashion_data), str(workdir))
  return workdir


def distilled_config(data_root, teacher_workdir, **overrides):
  config = fashion_config('distilled', data_root, **overrides)
  config.distill.teacher_workdir = str(teacher_workdir)
  return config


_files = file_hashes


def test_teacher_is_read_only_and_outside_the_student_state(fashion_data, fashion_teacher, tmp_path):
  teacher_files = _files(fashion_teacher)
  teacher_before = restore_state_tree(str(fashion_teacher), 20)
  config = distilled_config(fashion_data, fashion_teacher, log_every_steps=1)
  results = train.train_and_evaluate(config, str(tmp_path / 'student'))
  assert results['steps'] == 20 and results['model'] == 'mlp'

  teacher_after = restore_state_tree(str(fashion_teacher), 20)
  jax.tree.map(np.testing.assert_array_equal, teacher_after, teacher_before)
  assert _files(fashion_teacher) == teacher_files  # no file written, added or removed

  # The student's checkpoint holds the student (2x800) and its optimizer only.
  saved = restore_state_tree(str(tmp_path / 'student'), 20)
  assert set(saved) == {'step', 'params', 'opt_state', 'model_state'}
  assert jax.tree.map(np.shape, saved['params']) == {
      'hidden_0': {'kernel': (784, 800), 'bias': (800,)},
      'hidden_1': {'kernel': (800, 800), 'bias': (800,)},
      'out': {'kernel': (800, 10), 'bias': (10,)}}
  teacher_shapes = {np.shape(x) for x in jax.tree.leaves(teacher_before['params'])
                    } - {(10,)}
  assert not teacher_shapes & {np.shape(x) for x in jax.tree.leaves(saved)}
  assert results['num_params'] == 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10

  # The teacher really took part: its accuracy and agreement were logged,
  # and the soft term is positive (the student does not match it yet).
  records = [r for r in writers.read_metrics(str(tmp_path / 'student')) if 'loss' in r]
  assert len(records) == 20
  for r in records:
    assert 0.0 <= r['teacher_accuracy'] <= 1.0 and 0.0 <= r['teacher_agreement'] <= 1.0
    assert r['soft_loss'] > 0
    np.testing.assert_allclose(
        r['loss'], 0.1 * r['hard_loss'] + 0.9 * 400 * r['soft_loss'], rtol=1e-4)


@pytest.mark.slow
def test_soft_weight_zero_trains_exactly_like_classification(fashion_data, fashion_teacher,
                                                             tmp_path):
  # The distilled variant at soft_weight 0 is the student from scratch: same
  # data order, dropout and augmentation keys, same loss, same steps.
  scratch = train.train_and_evaluate(
      fashion_config('student', fashion_data, log_every_steps=1), str(tmp_path / 'scratch'))
  config = distilled_config(fashion_data, fashion_teacher, log_every_steps=1)
  config.distill.soft_weight = 0.0
  distilled = train.train_and_evaluate(config, str(tmp_path / 'distilled'))

  def losses(workdir):
    return [r['loss'] for r in writers.read_metrics(str(workdir)) if 'loss' in r]

  assert losses(tmp_path / 'distilled') == losses(tmp_path / 'scratch')
  jax.tree.map(np.testing.assert_array_equal,
               restore_state_tree(str(tmp_path / 'distilled'), 20)['params'],
               restore_state_tree(str(tmp_path / 'scratch'), 20)['params'])
  assert distilled['test_loss'] == scratch['test_loss']


@pytest.mark.slow
def test_extended_distillation_run_equals_a_straight_one(fashion_data, fashion_teacher, tmp_path):
  def run(workdir, steps):
    config = distilled_config(fashion_data, fashion_teacher, num_train_steps=steps)
    config.schedule.name = 'constant'  # A schedule that does not depend on the total.
    return train.train_and_evaluate(config, str(workdir))

  straight = run(tmp_path / 'straight', 20)
  run(tmp_path / 'extended', 10)
  extended = run(tmp_path / 'extended', 20)
  assert extended['test_loss'] == straight['test_loss']


def test_teacher_runs_in_eval_mode(fashion_data, fashion_teacher):
  # The runlocal teacher has dropout 0.5: in train mode its logits would
  # change with the step's key. In eval mode they are its deterministic output.
  config = distilled_config(fashion_data, fashion_teacher, **{
      'distill.temperature': 4.0, 'distill.soft_weight': 0.5})
  teacher = teacher_lib.load_teacher(config, num_classes=10, input_shape=(28, 28, 1),
                                     mesh=parallel.make_mesh())
  assert teacher.model.dropout_rate == 0.5
  student = MLP(num_classes=10, hidden_sizes=(8,))
  params = student.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))['params']
  tx = optax.sgd(0.0)
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params,
                     opt_state=tx.init(params), model_state={})
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.normal(size=(6, 28, 28, 1)), jnp.float32),
           'label': jnp.asarray(rng.integers(0, 10, 6))}
  teacher_logits = teacher.model.apply(teacher.variables, batch['image'], train=False)
  student_logits = student.apply({'params': params}, batch['image'])
  # The trainer's generic step with the distillation objective, not compiled.
  step_fn = step_lib.make_train_step(
      distillation.TASK, student, config, tx, optax.constant_schedule(0.0))
  metrics = [step_fn(state, jax.random.key(seed), teacher, batch)[1] for seed in (1, 2)]
  for m in metrics:
    np.testing.assert_allclose(m['soft_loss'], distillation.soft_target_loss(
        student_logits, teacher_logits, temperature=4.0).mean(), rtol=1e-6)
    assert m['teacher_accuracy'] == np.mean(np.argmax(teacher_logits, -1) == batch['label'])


@pytest.mark.slow
def test_student_records_its_teacher_and_refuses_a_changed_one(fashion_data, tmp_path):
  teacher = tmp_path / 'teacher'
  train.train_and_evaluate(fashion_config('teacher', fashion_data), str(teacher))
  student = tmp_path / 'student'
  config = distilled_config(fashion_data, teacher)
  first = train.train_and_evaluate(config, str(student))
  record = json.loads((student / 'teacher.json').read_text())
  assert record['workdir'] == str(teacher) and record['step'] == 20
  assert record['model'] == 'mlp' and len(record['sha256']) == 64
  # Re-running the finished student with the same teacher re-evaluates it.
  assert train.train_and_evaluate(config, str(student))['test_loss'] == first['test_loss']
  # The teacher trained further: resuming the student would mix two teachers.
  train.train_and_evaluate(fashion_config('teacher', fashion_data, num_train_steps=30),
                           str(teacher))
  with pytest.raises(errors.ConfigError, match='was distilled from the teacher .* at step 20; '
                     r'the teacher now read \(.*, step 30\) has other variables'):
    train.train_and_evaluate(config, str(student))


@pytest.mark.slow
def test_distilled_student_teaches_the_next_generation(fashion_data, fashion_teacher, tmp_path):
  first = tmp_path / 'first'
  train.train_and_evaluate(distilled_config(fashion_data, fashion_teacher), str(first))
  second = train.train_and_evaluate(distilled_config(fashion_data, first), str(tmp_path / 'second'))
  assert second['steps'] == 20
  assert json.loads((tmp_path / 'second' / 'teacher.json').read_text())['workdir'] == str(first)


def test_benchmark_times_the_distillation_step(fashion_data, fashion_teacher):
  from research import benchmark
  report = benchmark.benchmark(distilled_config(fashion_data, fashion_teacher),
                               steps=3, warmup=1, repeats=1)
  assert report['steps_per_second'] > 0 and report['params'] == 1_276_810


@pytest.mark.slow
def test_one_device_and_eight_devices_give_the_same_loss_curve(fashion_data, fashion_teacher,
                                                               tmp_path):
  # The teacher's variables replicated, the batch split over 8 devices.
  overrides = {'distill.teacher_workdir': fashion_teacher, 'log_every_steps': 1,
               'dataset.manual_dir': fashion_data / 'idx',
               'dataset.data_dir': fashion_data / 'tfds', 'tensorboard': False, 'plot': False}
  cmd = [sys.executable, '-m', 'launch.train',
         '--config=configs/fashion_mnist_distill.py:distilled,runlocal',
         f'--workdir={tmp_path / "eight"}'] + [f'--config.{k}={v}' for k, v in overrides.items()]
  env = subprocess_env(XLA_FLAGS='--xla_force_host_platform_device_count=8')
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert '8 device(s)' in proc.stdout and 'Teacher: mlp from' in proc.stdout
  assert jax.device_count() == 1
  one = train.train_and_evaluate(distilled_config(fashion_data, fashion_teacher, log_every_steps=1),
                                 str(tmp_path / 'one'))

  def losses(workdir):
    return [r['loss'] for r in writers.read_metrics(str(workdir)) if 'loss' in r]

  np.testing.assert_allclose(losses(tmp_path / 'eight'), losses(tmp_path / 'one'), rtol=1e-4)
  eight = json.loads((tmp_path / 'eight' / 'results.json').read_text())
  assert eight['num_devices'] == 8
  assert eight['test_loss'] == pytest.approx(one['test_loss'], rel=1e-3)


# --- Teachers that do not fit: one-line errors before anything is written ----


def _refused(config, workdir, match):
  with pytest.raises(errors.ConfigError, match=match) as info:
    train.train_and_evaluate(config, str(workdir))
  assert '\n' not in str(info.value)
  assert not os.path.exists(workdir)


def test_missing_teacher_says_how_to_train_it(fashion_data, tmp_path):
  config = distilled_config(fashion_data, tmp_path / 'no_teacher')
  _refused(config, tmp_path / 'student', re.escape(
      f"'{tmp_path / 'no_teacher'}' does not exist; train the teacher first with: "
      'python -m launch.train --config=configs/fashion_mnist_distill.py:teacher,runlocal '
      f'--workdir={tmp_path / "no_teacher"}.'))


def test_workdir_without_a_finished_run_is_refused(fashion_data, fashion_teacher, tmp_path):
  empty = tmp_path / 'empty'
  os.makedirs(empty)
  _refused(distilled_config(fashion_data, empty), tmp_path / 'student',
           'has no config.json.*train the teacher first')
  unfinished = tmp_path / 'unfinished'  # config.json written, no checkpoint yet
  os.makedirs(unfinished)
  (unfinished / 'config.json').write_text((fashion_teacher / 'config.json').read_text())
  _refused(distilled_config(fashion_data, unfinished), tmp_path / 'student',
           'holds no finished run.*train the teacher first')


def test_teacher_of_another_task_is_refused(fashion_data, fashion_teacher, tmp_path):
  other = tmp_path / 'lm'
  os.makedirs(other)
  teacher_config = json.loads((fashion_teacher / 'config.json').read_text())
  (other / 'config.json').write_text(json.dumps({**teacher_config, 'task': 'language_model'}))
  _refused(distilled_config(fashion_data, other), tmp_path / 'student',
           "holds a 'language_model' run; the teacher must be a classifier "
           r"\(a run of task 'classification' or 'distillation'\)")


def test_teacher_trained_on_another_dataset_is_refused(fashion_data, tmp_path):
  digits_teacher = tmp_path / 'digits_teacher'
  train.train_and_evaluate(quiet(load_config('digits_mlp', 'runlocal')), str(digits_teacher))
  _refused(distilled_config(fashion_data, digits_teacher), tmp_path / 'student',
           "was trained on 'sklearn_digits', but the student reads 'fashion_mnist_idx'")


def test_teacher_preprocessed_differently_is_refused(fashion_data, fashion_teacher, tmp_path):
  config = distilled_config(fashion_data, fashion_teacher)
  config.preprocess.standardize = True
  _refused(config, tmp_path / 'student',
           r'preprocessed its inputs differently \(preprocess.standardize: teacher \[False\], '
           r'student \[True\]\)')


def test_teacher_that_cannot_read_the_students_inputs_is_refused(fashion_data, fashion_teacher,
                                                                  tmp_path):
  # The same dataset and preprocessing, but 20x20 images: found by applying
  # the teacher to one abstract batch once the data is loaded (make_feeder).
  write_idx_dir(str(tmp_path / 'idx20'), size=20)
  os.makedirs(tmp_path / 'tfds20')
  config = distilled_config(fashion_data, fashion_teacher)
  config.dataset.manual_dir = str(tmp_path / 'idx20')
  config.dataset.data_dir = str(tmp_path / 'tfds20')
  _refused(config, tmp_path / 'student',
           r"\(mlp\) cannot read the student's inputs of shape \(20, 20, 1\): "
           r'ScopeParamShapeError: .*\(400, 1200\).*\(784, 1200\)')


def test_teacher_with_another_number_of_classes_is_refused(fashion_data, fashion_teacher):
  # Every image dataset here has 10 classes, so a same-data teacher always
  # matches in train_and_evaluate; the check itself (what make_feeder runs on
  # the loaded data) is driven directly with the class count of other data.
  config = distilled_config(fashion_data, fashion_teacher)
  mesh = parallel.make_mesh()
  with pytest.raises(errors.ConfigError,
                     match="outputs 10 classes, but the student's data has 7"):
    teacher_lib.load_teacher(config, num_classes=7, input_shape=(28, 28, 1), mesh=mesh)
  teacher = teacher_lib.load_teacher(config, num_classes=10, input_shape=(28, 28, 1), mesh=mesh)
  assert teacher.record.step == 20 and teacher.model.hidden_sizes == (1200, 1200)
  assert teacher.model.dropout_rate == 0.5  # applied with train=False: no dropout
  logits = teacher.model.apply(teacher.variables, jnp.zeros((3, 28, 28, 1)), train=False)
  assert logits.shape == (3, 10)


@pytest.mark.parametrize('key,value,match', [
    ('distill.temperature', 0.0, 'temperature=0.0 must be positive'),
    ('distill.soft_weight', 1.5, r'soft_weight=1.5 must be in \[0, 1\]'),
    ('loss', 'hinge', "trains on softmax cross-entropy"),
])
def test_bad_distill_knobs_are_refused(fashion_data, fashion_teacher, tmp_path, key, value, match):
  _refused(distilled_config(fashion_data, fashion_teacher, **{key: value}),
           tmp_path / 'student', match)


def test_distillation_task_without_distill_knobs_is_refused(fashion_data, tmp_path):
  config = fashion_config('student', fashion_data)
  config.task = 'distillation'
  _refused(config, tmp_path / 'student', r'needs config.distill \(teacher_workdir')


def test_data_identity_joins_idx_and_tfds_builders():
  assert teacher_lib.data_identity('fashion_mnist_idx') == 'fashion_mnist'
  assert teacher_lib.data_identity('fashion_mnist') == 'fashion_mnist'
  assert teacher_lib.data_identity('mnist_idx') == teacher_lib.data_identity('mnist')
  assert teacher_lib.data_identity('kmnist_idx') != teacher_lib.data_identity('mnist')


# --- Every config ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['teacher', 'student', 'distilled'])
def test_fashion_distill_runlocal_variants_train(variant, fashion_data, fashion_teacher,
                                                 tmp_path):
  config = fashion_config(variant, fashion_data)
  config.plot = True  # the pictures go through the distillation feeder too
  if variant == 'distilled':
    assert config.task == 'distillation'
    assert config.distill.teacher_workdir == 'runs/fashion_mnist_distill_teacher_runlocal'
    config.distill.teacher_workdir = str(fashion_teacher)
  results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['steps'] == 20 and 0.0 <= results['test_accuracy'] <= 1.0
  assert np.isfinite(results['test_loss']) and results['test_examples'] == 32
  for name in ('config.json', 'results.json', 'checkpoints/20', 'curves.png',
               'confusion_matrix.png'):
    assert (tmp_path / 'run' / name).exists(), name
  expected = {'teacher': ((1200, 1200), 0.5, 2), 'student': ((800, 800), 0.0, 0),
              'distilled': ((800, 800), 0.0, 0)}[variant]
  assert (config.model.hidden_sizes, config.model.dropout_rate,
          config.augment.crop_padding) == expected


def test_fashion_tfds_student_learns_from_the_idx_teacher(fashion_teacher, tmp_path):
  # fashion_mnist (TFDS) and fashion_mnist_idx hold the same examples.
  config = quiet(load_config('fashion_mnist_distill', 'distilled,runlocal,source=tfds'))
  assert config.dataset.name == 'fashion_mnist'
  config.distill.teacher_workdir = str(fashion_teacher)
  with tfds.testing.mock_data(num_examples=32):
    results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['steps'] == 20 and results['dataset'] == 'fashion_mnist'


@pytest.mark.slow
def test_mnist_distill_runlocal_variants_train(tmp_path):
  # TFDS `mnist` cannot be downloaded here: TFDS's mock examples, teacher first.
  results = {}
  with tfds.testing.mock_data(num_examples=32):
    for variant in ('teacher', 'student', 'distilled'):
      config = quiet(load_config('mnist_distill', f'{variant},runlocal,source=tfds'))
      assert config.dataset.name == 'mnist'
      if variant == 'distilled':
        assert config.distill.teacher_workdir == 'runs/mnist_distill_teacher_runlocal'
        config.distill.teacher_workdir = str(tmp_path / 'teacher')
      results[variant] = train.train_and_evaluate(config, str(tmp_path / variant))
  for variant, r in results.items():
    assert r['steps'] == 20 and np.isfinite(r['test_loss']), variant
  assert results['teacher']['num_params'] == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 12010
  assert results['distilled']['num_params'] == results['student']['num_params']


def test_unknown_variant_is_refused():
  with pytest.raises(errors.ConfigError, match="variant='teachr'"):
    load_config('fashion_mnist_distill', 'teachr')
  with pytest.raises(errors.ConfigError, match="variant='big'"):
    load_config('mnist_distill', 'big,runlocal')
