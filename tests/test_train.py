"""End-to-end training: every config, golden values, resume, devices, errors."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

import fake_weights

from research import errors, train, writers
from research.data import DATASETS
from testlib import (REPO_ROOT, config_names, load_config, quiet, restore_state_tree,
                     subprocess_env, write_caption_folder, write_idx_dir, write_labelled_text,
                     write_spoken_words, write_text_corpus, write_word_vectors)


def losses(workdir):
  return {r['step']: r['loss'] for r in writers.read_metrics(workdir) if 'loss' in r}


def train_on_test_data(config, tmp_path, monkeypatch, run) -> dict:
  """Trains `config` on data a test may use: generated files read by the real
  builders, TFDS's mock examples of public datasets, generated weights."""
  if config.task in ('neural_style', 'fast_neural_style'):  # Generated images and weights.
    fake_weights.style_config_on_generated_files(config, str(tmp_path / 'style'), monkeypatch)
    return train.train_and_evaluate(config, str(run))
  spec = DATASETS[config.dataset.name]
  if 'pretrained' in config and config.pretrained.name is not None:  # Generated weights.
    fake_weights.pretrained_on_generated_files(config, tmp_path / 'weights', monkeypatch)
  if spec.labelled_text and config.text.vectors_path is not None:  # Pre-trained vectors.
    config.text.vectors_path = write_word_vectors(
        str(tmp_path / 'vectors.bin'), config.model.embed_dim)
  if spec.needs_manual_dir:  # Tiny local files, read by the real builder.
    if config.dataset.name == 'text_corpus':
      layout = 'ptb' if config.text.level == 'word' else 'single'
      config.dataset.manual_dir = write_text_corpus(str(tmp_path / 'text'), layout)
    elif config.dataset.name == 'labelled_text':
      config.dataset.manual_dir = write_labelled_text(str(tmp_path / 'labelled'))
    elif config.dataset.name == 'caption_folder':
      config.dataset.manual_dir = write_caption_folder(str(tmp_path / 'captioned'))
      config.encoder.pretrained = False  # the same CNN, random weights: no weight file
    elif config.dataset.name == 'audio_folder':  # tones standing in for the words
      from research.tasks import spoken_words
      words = (spoken_words.word_list(config) if config.task == 'spoken_words'
               else ('press one', 'thank you', 'goodbye now', 'please hold'))
      # Phrases need time for their characters (a CTC step each).
      seconds = 0.15 if config.task == 'spoken_words' else 0.6
      config.dataset.manual_dir = write_spoken_words(str(tmp_path / 'synthetic'), words,
                                                     note_seconds=seconds)
      config.test_dataset.manual_dir = write_spoken_words(str(tmp_path / 'real'), words,
                                                          per_word=1, split='test',
                                                          note_seconds=seconds)
    else:
      write_idx_dir(str(tmp_path / 'idx'))
      config.dataset.manual_dir = str(tmp_path / 'idx')
    os.makedirs(tmp_path / 'tfds')
    config.dataset.data_dir = str(tmp_path / 'tfds')
    return train.train_and_evaluate(config, str(run))
  if spec.builds_offline:
    return train.train_and_evaluate(config, str(run))
  with tfds.testing.mock_data(num_examples=config.batch_size * 2):  # Public datasets.
    return train.train_and_evaluate(config, str(run))


@pytest.mark.slow
@pytest.mark.parametrize('name', config_names())
def test_every_config_trains_runlocal(name, tmp_path, monkeypatch):
  config = quiet(load_config(name, 'runlocal'))
  config.tensorboard = config.plot = True
  run = tmp_path / 'run'
  results = train_on_test_data(config, tmp_path, monkeypatch, run)
  steps = config.num_train_steps
  assert results['steps'] == steps and 0 < steps <= 20
  for path in ('config.json', 'results.json', 'metrics.jsonl', f'checkpoints/{steps}'):
    assert os.path.exists(run / path), path
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(run / 'tensorboard'))
  assert (run / 'curves.png').exists()
  with open(run / 'results.json') as f:
    on_disk = json.load(f)
  spec = DATASETS.get(config.dataset.name)
  if config.task == 'neural_style':
    assert all(np.isfinite(results[f'image_{k}']) for k in ('loss', 'content_loss', 'style_loss'))
    for picture in ('stylized.png', 'panel.png', 'progress/step_000001.png'):
      assert (run / picture).exists(), picture
    keys = ('image_loss', 'image_content_loss', 'image_style_loss')
  elif config.task == 'fast_neural_style':
    assert all(np.isfinite(results[f'test_{k}']) for k in ('loss', 'content_loss', 'style_loss'))
    from research.data.builders import photo_folder
    held_out = [f for f in photo_folder.image_files(config.dataset.manual_dir)
                if photo_folder.split_of(f) == 'test']
    assert results['test_examples'] == len(held_out) > 0  # every held-out photo counts
    assert (run / 'stylized_test.png').exists()
    keys = ('test_loss', 'test_content_loss', 'test_style_loss')
  elif config.task == 'classification':
    assert 0.0 <= results['test_accuracy'] <= 1.0 and np.isfinite(results['test_loss'])
    if spec.in_memory:
      assert (run / 'confusion_matrix.png').exists()
    assert (run / 'signals.png').exists() == config.dataset.name.startswith('mnist1d')
    assert (run / 'tokenizer.json').exists() == spec.labelled_text
    assert (run / 'ngrams.png').exists() == (config.model.name == 'textcnn')
    keys = ('test_accuracy', 'test_loss')
  elif config.task == 'captioning':
    assert np.isfinite(results['test_perplexity']) and results['test_captions'] > 0
    for metric in ('bleu_1', 'bleu_4', 'meteor', 'rouge_l', 'cider'):
      assert 0.0 <= results[f'test_{metric}'] <= 10.0, metric
    written = json.load(open(run / 'captions_test.json'))
    assert len(written) == len({e['image'] for e in written}) > 0  # one per test image
    assert (run / 'caption_vocab.json').exists() and (run / 'captions_test.png').exists()
    keys = ('test_perplexity', 'test_bleu_4', 'test_cider')
  elif config.task == 'spoken_words':
    for split in ('validation', 'test'):
      assert 0.0 <= results[f'{split}_accuracy'] <= 1.0 and np.isfinite(results[f'{split}_loss'])
    predictions = json.load(open(run / 'predictions_test.json'))
    assert len(predictions) == results['test_examples'] > 0  # every test recording counts
    assert {'test_digits_accuracy', 'test_letters_accuracy'} <= set(results)
    assert (run / 'spectrograms.png').exists()
    keys = ('test_accuracy', 'validation_accuracy')
  elif config.task == 'transcription':
    assert np.isfinite(results['validation_loss'])
    predictions = json.load(open(run / 'predictions_test.json'))
    assert len(predictions) == results['test_recordings'] > 0  # every test recording counts
    assert (run / 'ctc_alignment.png').exists()
    keys = ('test_greedy_wer', 'test_beam_cer', 'validation_greedy_cer')
  elif config.task == 'autoencoder':
    assert np.isfinite(results['test_squared_error'])
    for picture in ('reconstructions.png', 'codes_2d.png'):
      assert (run / picture).exists(), picture
    keys = ('test_squared_error', 'test_loss', 'best_test_squared_error')
  else:  # language_model
    for split in ('validation', 'test'):
      assert np.isfinite(results[f'{split}_bits_per_token'])
      assert results[f'{split}_tokens'] > 0
    assert (run / 'vocab.json').exists()
    assert (run / 'lstm_gates.png').exists() == (config.model.cell == 'lstm')
    keys = ('validation_bits_per_token', 'test_bits_per_token', 'test_perplexity')
  for key in keys + ('steps', 'train_seconds', 'examples_per_second'):
    assert key in on_disk
  assert json.load(open(run / 'config.json'))['model']['name'] == config.model.name


def test_golden_first_steps(tmp_path):
  # Pinned losses of the first steps of the digits MLP (seed 0, 1 device).
  # They change only if the data order, init, loss or optimizer change; if that
  # is intended, update the numbers and say why in the commit.
  config = quiet(load_config('digits_mlp'), num_train_steps=3, log_every_steps=1)
  train.train_and_evaluate(config, str(tmp_path))
  got = losses(str(tmp_path))
  np.testing.assert_allclose([got[1], got[2], got[3]], GOLDEN_MLP_LOSSES, rtol=1e-5)


GOLDEN_MLP_LOSSES = [2.453237295150757, 2.220757007598877, 2.379732608795166]

# Recorded with the trainer before the task contract (commit 1874c2a) and
# reproduced bit for bit after it: LeNet-5's loss every 10 steps and its test
# metrics after 30 steps; MNIST-1D's GRU, two seeds vmapped, :runlocal.
GOLDEN_LENET5 = dict(losses=[1.4177579164505005, 0.6957604050636291, 0.522159993648529],
                     test_loss=0.5155958917405871, test_accuracy=0.8972222222222223)
GOLDEN_MNIST1D_GRU = [dict(test_loss=2.225455093383789, test_accuracy=0.179),
                      dict(test_loss=2.229251937866211, test_accuracy=0.144)]


@pytest.mark.slow
def test_golden_lenet5_and_vmapped_gru(tmp_path):
  from research import multiseed
  config = quiet(load_config('digits_lenet5'), num_train_steps=30, log_every_steps=10,
                 eval_every_steps=0)
  results = train.train_and_evaluate(config, str(tmp_path / 'lenet'))
  got = losses(str(tmp_path / 'lenet'))
  np.testing.assert_allclose([got[10], got[20], got[30]], GOLDEN_LENET5['losses'], rtol=1e-5)
  for key in ('test_loss', 'test_accuracy'):
    np.testing.assert_allclose(results[key], GOLDEN_LENET5[key], rtol=1e-5)
  seeds = multiseed.train_and_evaluate_seeds(
      quiet(load_config('mnist1d', 'gru,runlocal')), [0, 1],
      [str(tmp_path / f'gru_{s}') for s in (0, 1)])
  for result, golden in zip(seeds, GOLDEN_MNIST1D_GRU):
    for key, value in golden.items():
      np.testing.assert_allclose(result[key], value, rtol=1e-5)


def test_loss_decreases_and_model_learns(tmp_path):
  config = quiet(load_config('digits_mlp'), num_train_steps=200, log_every_steps=20)
  results = train.train_and_evaluate(config, str(tmp_path))
  curve = losses(str(tmp_path))
  assert curve[200] < 0.25 * curve[20]
  assert results['test_accuracy'] > 0.9
  assert results['test_examples'] == 360  # every test image, none dropped


@pytest.mark.slow
def test_same_seed_same_numbers_other_seed_differs(tmp_path):
  runs = {}
  for tag, seed in (('a', 0), ('b', 0), ('c', 1)):
    config = quiet(load_config('digits_perceptron'), num_train_steps=30, seed=seed)
    runs[tag] = train.train_and_evaluate(config, str(tmp_path / tag))['test_loss']
  assert runs['a'] == runs['b']
  assert runs['a'] != runs['c']


def test_rerun_of_finished_workdir_resumes_without_training(tmp_path, capsys):
  config = quiet(load_config('digits_perceptron'), num_train_steps=30)
  first = train.train_and_evaluate(config, str(tmp_path))
  capsys.readouterr()
  second = train.train_and_evaluate(config, str(tmp_path))
  assert 'Resumed from step 30' in capsys.readouterr().out
  assert second['test_loss'] == first['test_loss']
  assert second['train_seconds'] == pytest.approx(first['train_seconds'], abs=0.5)


@pytest.mark.slow
def test_extending_a_run_continues_from_its_checkpoint(tmp_path):
  def run(workdir, steps):
    config = quiet(load_config('digits_mlp'), num_train_steps=steps,
                   checkpoint_every_steps=20)
    config.schedule.name = 'constant'  # A schedule that does not depend on the total.
    return train.train_and_evaluate(config, str(workdir))

  straight = run(tmp_path / 'straight', 40)
  run(tmp_path / 'extended', 20)
  extended = run(tmp_path / 'extended', 40)
  assert extended['test_loss'] == straight['test_loss']


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
  overrides = dict(num_train_steps=3000, checkpoint_every_steps=250,
                   log_every_steps=50, eval_every_steps=0)
  killed_dir = tmp_path / 'killed'
  cmd = [sys.executable, '-m', 'launch.train', '--config=configs/digits_mlp.py',
         f'--workdir={killed_dir}', '--config.tensorboard=False', '--config.plot=False']
  cmd += [f'--config.{k}={v}' for k, v in overrides.items()]
  proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=subprocess_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    if max(losses(str(killed_dir)) or [0]) >= 1000:
      proc.send_signal(signal.SIGKILL)
      break
    time.sleep(0.02)
  assert proc.wait() == -signal.SIGKILL, 'the run should have been killed mid-way'
  killed_at = max(losses(str(killed_dir)))
  print(f'SIGKILL after logged step {killed_at}; checkpoints: '
        f'{sorted(os.listdir(killed_dir / "checkpoints"))}')
  assert 1000 <= killed_at < 3000
  assert not os.path.exists(killed_dir / 'results.json')

  resumed = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(),
                           capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert 'Resumed from step' in resumed.stdout

  reference = train.train_and_evaluate(
      quiet(load_config('digits_mlp'), **overrides), str(tmp_path / 'straight'))
  with open(killed_dir / 'results.json') as f:
    after_kill = json.load(f)
  for key in ('test_loss', 'test_accuracy', 'steps'):
    assert after_kill[key] == reference[key], key
  jax.tree.map(np.testing.assert_array_equal,
               restore_state_tree(str(killed_dir), 3000)['params'],
               restore_state_tree(str(tmp_path / 'straight'), 3000)['params'])
  # The metrics file holds the whole curve, equal to the uninterrupted one.
  assert losses(str(killed_dir)) == losses(str(tmp_path / 'straight'))


@pytest.mark.slow
def test_one_device_and_eight_devices_give_the_same_loss_curve(tmp_path):
  overrides = dict(num_train_steps=30, log_every_steps=1, eval_every_steps=0)
  cmd = [sys.executable, '-m', 'launch.train', '--config=configs/digits_lenet5.py',
         f'--workdir={tmp_path / "eight"}', '--config.tensorboard=False', '--config.plot=False']
  cmd += [f'--config.{k}={v}' for k, v in overrides.items()]
  env = subprocess_env(XLA_FLAGS='--xla_force_host_platform_device_count=8')
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert '8 device(s)' in proc.stdout
  assert jax.device_count() == 1
  single = train.train_and_evaluate(
      quiet(load_config('digits_lenet5'), **overrides), str(tmp_path / 'one'))
  one, eight = losses(str(tmp_path / 'one')), losses(str(tmp_path / 'eight'))
  assert sorted(one) == sorted(eight) == list(range(1, 31))
  diffs = [abs(eight[s] - one[s]) for s in one]
  print(f'1 vs 8 devices: max |loss difference| over 30 steps = {max(diffs):.3g}')
  np.testing.assert_allclose([eight[s] for s in one], [one[s] for s in one], rtol=1e-4, atol=1e-6)
  assert one[30] < one[1]
  with open(tmp_path / 'eight' / 'results.json') as f:
    multi = json.load(f)
  assert multi['num_devices'] == 8
  assert multi['test_loss'] == pytest.approx(single['test_loss'], rel=1e-3)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = quiet(load_config('digits_mlp'), num_train_steps=50,
                 checkpoint_every_steps=1, log_every_steps=1)
  config.optimizer.name = 'sgd'
  config.optimizer.learning_rate = 1e30
  with pytest.raises(errors.NonFiniteLossError, match='Non-finite training loss at step'):
    train.train_and_evaluate(config, str(tmp_path))
  steps = sorted(int(d) for d in os.listdir(tmp_path / 'checkpoints') if d.isdigit())
  assert steps, 'a good checkpoint should have been kept'
  state = restore_state_tree(str(tmp_path), steps[-1])
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state['params']))
  assert os.path.exists(tmp_path / 'config.json')
  assert not os.path.exists(tmp_path / 'results.json')


def test_changed_config_on_existing_workdir_is_refused(tmp_path):
  config = quiet(load_config('digits_perceptron'), num_train_steps=5)
  train.train_and_evaluate(config, str(tmp_path))
  before = (tmp_path / 'config.json').read_text()
  changed = quiet(load_config('digits_perceptron'), num_train_steps=5)
  changed.optimizer.learning_rate = 0.5
  with pytest.raises(errors.ConfigError, match='optimizer.learning_rate'):
    train.train_and_evaluate(changed, str(tmp_path))
  assert (tmp_path / 'config.json').read_text() == before


@pytest.mark.parametrize('key,value,match', [
    ('dataset.name', 'imagenet9000', 'Unknown dataset'),
    ('model.name', 'transformer', 'Unknown model'),
    ('loss', 'l7', 'Unknown loss'),
    ('optimizer.name', 'lion', 'Unknown optimizer'),
    ('schedule.name', 'zigzag', 'Unknown schedule'),
    ('batch_size', 0, 'positive multiple'),
])
def test_bad_names_fail_before_anything_is_written(tmp_path, key, value, match):
  config = quiet(load_config('digits_lenet5', 'runlocal'), **{key: value})
  with pytest.raises(errors.ConfigError, match=match):
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w')


def test_unknown_model_option_is_named(tmp_path):
  config = load_config('digits_lenet5', 'runlocal')
  config.unlock()
  config.model.widht = 3
  with pytest.raises(errors.ConfigError, match="widht"):
    train.check_config(config)


@pytest.mark.slow
@pytest.mark.parametrize('name', [n for n in config_names() if n.startswith('fashion_mnist_')])
def test_fashion_configs_with_the_public_builder_under_mock_data(name, tmp_path):
  config = quiet(load_config(name, 'runlocal,source=tfds'), num_train_steps=2)
  assert config.dataset.name == 'fashion_mnist'
  with tfds.testing.mock_data(num_examples=32):
    results = train.train_and_evaluate(config, str(tmp_path))
  assert results['steps'] == 2 and results['test_examples'] == 32


@pytest.mark.slow
def test_sigterm_saves_exits_cleanly_and_the_rerun_matches(tmp_path, monkeypatch):
  import signal
  from research import preemption
  from research.data import feeding

  overrides = dict(num_train_steps=60, log_every_steps=10, eval_every_steps=0,
                   checkpoint_every_steps=1000)
  straight = train.train_and_evaluate(
      quiet(load_config('digits_perceptron'), **overrides), str(tmp_path / 'straight'))
  train_args = feeding.InMemoryFeeder.train_args

  def signal_at_step_23(self, step):
    if step == 23:
      os.kill(os.getpid(), signal.SIGTERM)  # As a scheduler would, mid-step.
    return train_args(self, step)

  previous_handler = signal.getsignal(signal.SIGTERM)
  with monkeypatch.context() as m:
    m.setattr(feeding.InMemoryFeeder, 'train_args', signal_at_step_23)
    with pytest.raises(preemption.Preempted, match='saved at step 24') as stop:
      train.train_and_evaluate(
          quiet(load_config('digits_perceptron'), **overrides), str(tmp_path / 'cut'))
  assert stop.value.step == 24
  assert signal.getsignal(signal.SIGTERM) is previous_handler  # Handler restored.
  assert '24' in os.listdir(tmp_path / 'cut' / 'checkpoints')
  assert not os.path.exists(tmp_path / 'cut' / 'results.json')
  resumed = train.train_and_evaluate(
      quiet(load_config('digits_perceptron'), **overrides), str(tmp_path / 'cut'))
  for key in ('test_loss', 'test_accuracy', 'steps'):
    assert resumed[key] == straight[key], key


def test_tensorboard_reads_the_event_files_the_writer_leaves(tmp_path):
  from tensorboard.backend.event_processing import event_accumulator

  writer = writers.MetricWriter(str(tmp_path), tensorboard=True)
  writer.write(10, {'loss': 0.5, 'accuracy': np.float32(0.25)})
  writer.write(20, {'loss': 0.125})
  writer.close()
  (events,) = os.listdir(tmp_path / 'tensorboard')
  acc = event_accumulator.EventAccumulator(str(tmp_path / 'tensorboard' / events))
  acc.Reload()
  assert [(e.step, e.value) for e in acc.Scalars('loss')] == [(10, 0.5), (20, 0.125)]
  assert [(e.step, e.value) for e in acc.Scalars('accuracy')] == [(10, 0.25)]
  assert [r['step'] for r in writers.read_metrics(str(tmp_path))] == [10, 20]
