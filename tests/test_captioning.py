"""The captioning family end to end on generated captioned images: the
fitted baselines, the vocabulary check at restore, and caption encoding."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from research import errors, train
from research.data import captions
from research.data.lm_corpus import Vocabulary
from research.tasks import caption_baselines
from testlib import load_config, quiet, write_caption_folder


def caption_config(tmp_path, arg='runlocal'):
  config = quiet(load_config('tuxpaint_captioning', arg))
  config.dataset.manual_dir = write_caption_folder(str(tmp_path / 'captioned'))
  os.makedirs(tmp_path / 'tfds', exist_ok=True)
  config.dataset.data_dir = str(tmp_path / 'tfds')
  config.encoder.pretrained = False  # the same CNN, random weights: no weight file
  config.caption_metrics = ('bleu_1', 'bleu_4', 'rouge_l', 'cider')
  return config


def test_captions_become_start_words_end_padded_rows():
  vocab = captions.build_vocabulary([['A red box.', 'A red, red square!'], ['Two dogs.']],
                                    min_count=2)
  assert vocab.tokens[:4] == captions.SPECIALS and set(vocab.tokens[4:]) == {'a', 'red'}
  encoded = captions.encode(vocab, [['A red box.'], ['red red red red red a']], max_length=3)
  box = vocab.encode(['a', 'red']).tolist() + [captions.UNK_ID]
  assert encoded.ids_NxT.tolist()[0] == [captions.START_ID, *box, captions.END_ID]
  assert encoded.ids_NxT.shape == (2, 5) and encoded.cut == 1
  assert encoded.image_index_N.tolist() == [0, 1]
  assert captions.decode(vocab, [*vocab.encode(['a', 'red']).tolist(), captions.END_ID, 5]) == 'a red'


def test_most_frequent_and_nearest_neighbour_baselines(tmp_path):
  assert caption_baselines.most_frequent([['A red box.'], ['a red box'], ['A cat.']]) == 'a red box'
  assert caption_baselines.consensus(['a red box', 'a red square', 'two dogs']) in (
      'a red box', 'a red square')
  features = np.asarray([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
  found = caption_baselines.nearest_neighbour(
      features, [['a red box'], ['a blue box'], ['a box']], np.asarray([[0.1, 0.9]]), k=1)
  assert found == ['a blue box']
  for baseline in ('most_frequent', 'nearest_neighbour'):
    config = caption_config(tmp_path, f'baseline={baseline},runlocal')
    results = train.train_and_evaluate(config, str(tmp_path / baseline))
    written = json.load(open(tmp_path / baseline / 'captions_test.json'))
    assert results['test_images'] == len(written) > 0
    assert 0.0 <= results['test_bleu_1'] <= 1.0 and results['test_cider'] >= 0.0
    if baseline == 'most_frequent':
      assert results['test_distinct_captions'] == 1


@pytest.mark.slow
def test_a_changed_vocabulary_at_restore_is_one_clear_error(tmp_path):
  config = caption_config(tmp_path)
  run = str(tmp_path / 'run')
  train.train_and_evaluate(config, run)
  saved = Vocabulary.load(os.path.join(run, 'caption_vocab.json'))
  assert saved.tokens[:4] == captions.SPECIALS
  # Other captions for the same images: another vocabulary.
  path = os.path.join(config.dataset.manual_dir, 'captions.json')
  data = json.load(open(path))
  json.dump({k: [f'A {v[0].split()[1]} circle.'] for k, v in data.items()}, open(path, 'w'))
  config.dataset.data_dir = str(tmp_path / 'tfds2')
  os.makedirs(config.dataset.data_dir)
  config.num_train_steps = 4
  with pytest.raises(errors.ConfigError, match='Vocabulary mismatch'):
    train.train_and_evaluate(config, run)


@pytest.mark.slow
def test_launch_caption_captions_any_image_and_refuses_bad_input(tmp_path):
  import subprocess
  import sys

  from PIL import Image

  from testlib import REPO_ROOT, subprocess_env
  config = caption_config(tmp_path)
  run = tmp_path / 'run'
  train.train_and_evaluate(config, str(run))
  Image.fromarray(np.full((20, 50, 3), 200, np.uint8)).save(tmp_path / 'wide.png')
  (tmp_path / 'notes.png').write_text('not an image')

  def caption(*paths, workdir=run):
    return subprocess.run(
        [sys.executable, '-m', 'launch.caption', f'--workdir={workdir}', '--beam=2',
         *map(str, paths)], cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
        text=True, timeout=300)

  proc = caption(tmp_path / 'wide.png')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.startswith(f'{tmp_path / "wide.png"}: ')
  for bad, match in ((tmp_path / 'notes.png', 'not an image'),
                     (tmp_path / 'missing.png', 'does not exist')):
    proc = caption(bad)
    assert proc.returncode == 2 and match in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.count('error:') == 1 and 'Traceback' not in proc.stderr
  proc = caption(tmp_path / 'wide.png', workdir=tmp_path / 'captioned')  # not a run
  assert proc.returncode == 2 and proc.stderr.startswith('error:'), proc.stderr[-2000:]


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path):
  def config(steps):
    c = caption_config(tmp_path)
    c.schedule.name = 'constant'  # the stopped run's schedule must not depend on its total
    c.num_train_steps = steps
    return c
  straight = train.train_and_evaluate(config(4), str(tmp_path / 'a'))
  train.train_and_evaluate(config(2), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(config(4), str(tmp_path / 'b'))
  for key in ('test_loss', 'test_bleu_4', 'test_cider'):
    assert resumed[key] == straight[key], key
  assert (json.load(open(tmp_path / 'a' / 'captions_test.json'))
          == json.load(open(tmp_path / 'b' / 'captions_test.json')))


def test_the_captioning_config_trains_two_steps_on_coco_captions_under_mock_data(tmp_path):
  # The public path (users with a network): TFDS's coco_captions, here TFDS's
  # generated examples of its features (random images, random caption texts).
  import tensorflow_datasets as tfds
  config = quiet(load_config('tuxpaint_captioning', 'runlocal'))
  config.dataset.name = 'coco_captions'
  config.dataset.manual_dir = ''
  config.dataset.eval_split = 'val'
  config.encoder.pretrained = False
  config.caption_metrics = ('bleu_4', 'cider')
  with tfds.testing.mock_data(num_examples=8):
    results = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['steps'] == 2 and np.isfinite(results['test_loss'])
  assert 0 <= results['test_cider'] and len(json.load(open(tmp_path / 'run' / 'captions_test.json')))
