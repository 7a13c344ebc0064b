"""Gatys et al. 2016's losses against hand-computed values, and the style
configs end to end on generated images and tiny generated weights."""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp
import pytest

from research import errors
from research.data import images
from research.tasks import neural_style


def test_gram_matrix_by_hand():
  # One image, 2x1 positions (M = 2), 2 channels: F = [[1, 2], [3, 4]] (rows = positions).
  f = jnp.asarray([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # 1 x 2 x 1 x 2
  # F^T F = [[1*1+3*3, 1*2+3*4], [.., 2*2+4*4]] = [[10, 14], [14, 20]]; / M = 2.
  np.testing.assert_allclose(neural_style.gram_matrix(f)[0], [[5.0, 7.0], [7.0, 10.0]])


def test_content_style_and_tv_losses_by_hand():
  f = jnp.asarray([[[[1.0, 2.0]], [[3.0, 4.0]]]])
  p = jnp.zeros_like(f)
  # Eq. 1: 1/2 (1 + 4 + 9 + 16) = 15.
  np.testing.assert_allclose(neural_style.content_loss(f, p), [15.0])
  gram = neural_style.gram_matrix(f)
  target = jnp.asarray([[4.0, 7.0], [7.0, 12.0]])
  # Eq. 4 with N = 2: ((5-4)^2 + (10-12)^2) / (4 * 2^2) = 5 / 16.
  np.testing.assert_allclose(neural_style.style_layer_loss(gram, target), [5.0 / 16.0])
  image = jnp.asarray([[[[0.0] * 3, [1.0] * 3], [[2.0] * 3, [4.0] * 3]]])  # 1 x 2 x 2 x 3
  # Vertical: (2-0)^2 + (4-1)^2 = 13; horizontal: (1-0)^2 + (4-2)^2 = 5; x 3 channels.
  np.testing.assert_allclose(neural_style.total_variation(image), [3 * (13.0 + 5.0)])


def test_a_gram_does_not_depend_on_the_image_size():
  rng = np.random.default_rng(0)
  tile = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
  twice = np.concatenate([tile, tile], axis=1)  # the same texture, twice the positions
  np.testing.assert_allclose(neural_style.gram_matrix(jnp.asarray(tile)),
                             neural_style.gram_matrix(jnp.asarray(twice)), rtol=1e-5)


def test_images_that_cannot_be_used_are_one_clear_error(tmp_path):
  from PIL import Image
  with pytest.raises(errors.DataNotFoundError, match='launch.get_data photos'):
    images.read_rgb(str(tmp_path / 'missing.png'), 64, what='content image')
  (tmp_path / 'notes.png').write_text('not an image')
  with pytest.raises(errors.DataError, match='not an image'):
    images.read_rgb(str(tmp_path / 'notes.png'), 64, what='content image')
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'grey.png')
  with pytest.raises(errors.DataError, match='grey-scale'):
    images.read_rgb(str(tmp_path / 'grey.png'), 64, what='content image')
  Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / 'wide.png')
  assert images.read_rgb(str(tmp_path / 'wide.png'), 64, what='photo').shape == (32, 64, 3)


@pytest.fixture(scope='module')
def fast_style_run(tmp_path_factory):
  """A tiny feed-forward style network trained 2 steps on generated photos."""
  import fake_weights
  from research import train
  from testlib import load_config, quiet
  tmp = tmp_path_factory.mktemp('fast_style')
  with pytest.MonkeyPatch.context() as monkeypatch:
    config = quiet(load_config('johnson_style', 'runlocal'))
    fake_weights.style_config_on_generated_files(config, str(tmp / 'data'), monkeypatch)
    train.train_and_evaluate(config, str(tmp / 'run'))
  return tmp


def test_each_heldout_photo_is_an_eval_split_of_its_own_at_its_own_shape(fast_style_run):
  import json
  result = json.load(open(fast_style_run / 'run' / 'results.json'))
  # The generated collection's test photos, and the two held-out photos (whole,
  # 20x36 and 36x28 at a longer side of 32 px), each with Gatys' three losses.
  for split in ('test', 'cat', 'mug'):
    parts = result[f'{split}_content_loss'] + 1e3 * result[f'{split}_style_loss']
    assert result[f'{split}_loss'] == pytest.approx(parts, rel=1e-5)
  assert result['cat_examples'] == 1 and result['mug_examples'] == 1
  assert 0 < result['cat_seconds'] < 60 and 0 < result['mug_seconds'] < 60  # forward pass
  assert result['cat_loss'] != result['mug_loss']


def test_heldout_photos_must_name_distinct_splits():
  from research.tasks import fast_style
  from testlib import load_config
  config = load_config('johnson_style', 'runlocal')
  config.heldout_photos = ('a/cat.png', 'b/cat.jpg')
  with pytest.raises(errors.ConfigError, match='distinct identifiers'):
    fast_style.check_config(config)
  config.heldout_photos = ('a/test.png',)
  with pytest.raises(errors.ConfigError, match='other than "test"'):
    fast_style.check_config(config)


@pytest.mark.slow
def test_stylize_writes_each_photo_at_its_size_and_refuses_bad_input(fast_style_run):
  import subprocess
  import sys
  from PIL import Image
  from testlib import REPO_ROOT, subprocess_env
  photo = fast_style_run / 'photo.png'
  Image.fromarray(np.random.default_rng(1).integers(0, 256, (21, 34, 3), np.uint8)).save(photo)
  (fast_style_run / 'notes.png').write_text('not an image')
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(fast_style_run / 'grey.png')

  def stylize(*photos, workdir=fast_style_run / 'run'):
    return subprocess.run(
        [sys.executable, '-m', 'launch.stylize', f'--workdir={workdir}', *map(str, photos)],
        cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300)

  proc = stylize(photo)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'in ' in proc.stdout and 'forward pass' in proc.stdout
  out = Image.open(fast_style_run / 'run' / 'stylized' / 'photo.png')
  assert out.size == (34, 21) and out.mode == 'RGB'
  for bad, match in ((fast_style_run / 'notes.png', 'not an image'),
                     (fast_style_run / 'grey.png', 'grey-scale')):
    proc = stylize(bad)
    assert proc.returncode == 2 and match in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.count('error:') == 1 and 'Traceback' not in proc.stderr
  proc = stylize(photo, workdir=fast_style_run / 'data')  # not a run
  assert proc.returncode == 2 and proc.stderr.startswith('error:'), proc.stderr[-2000:]


@pytest.mark.slow
def test_a_style_table_tabulates_losses_and_draws_its_grid(tmp_path, monkeypatch):
  import dataclasses
  import fake_weights
  from research import reproduce
  from research.reproduce import tables
  from testlib import load_config
  config = fake_weights.style_config_on_generated_files(
      load_config('gatys_style', 'runlocal'), str(tmp_path / 'data'), monkeypatch)
  files = (('dataset.content', config.dataset.content), ('dataset.style', config.dataset.style),
           ('loss_network.weights_dir', config.loss_network.weights_dir), ('plot', True))
  rows = tuple(dataclasses.replace(r, arg=f'{r.arg},runlocal', overrides=files)
               for r in tables.TABLES['gatys2016'].rows if r.name.startswith('chelsea x starry'))
  table = dataclasses.replace(tables.TABLES['gatys2016'], rows=rows)
  text = reproduce.tabulate(table, seeds=1, root=str(tmp_path / 'tables'))
  assert [r.name for r in rows] == ['chelsea x starry_night, L-BFGS',
                                    'chelsea x starry_night, Adam']
  assert 'image perceptual loss' in text and 'content loss' in text and 'style loss' in text
  for picture in ('grid.png', 'lbfgs_vs_adam.png', 'table.png'):
    assert (tmp_path / 'tables' / 'gatys2016' / picture).exists(), picture


@pytest.mark.slow
@pytest.mark.parametrize('optimizer', ['lbfgs', 'adam'])
def test_an_interrupted_style_run_resumes_to_the_same_image(tmp_path, monkeypatch, optimizer):
  """The image and the optimizer's state (L-BFGS's curvature pairs too) are
  the checkpointed train state: 2 steps + 2 more equal 4 steps."""
  import fake_weights
  from research import train, workdir
  from testlib import load_config, quiet

  def run(name, steps):
    config = quiet(load_config('gatys_style', f'runlocal,optimizer={optimizer}'),
                   num_train_steps=steps, checkpoint_every_steps=2)
    fake_weights.style_config_on_generated_files(config, str(tmp_path / 'data'), monkeypatch)
    return train.train_and_evaluate(config, str(tmp_path / name))

  straight = run('straight', 4)
  run('resumed', 2)
  resumed = run('resumed', 4)
  assert resumed['image_loss'] == straight['image_loss']
  np.testing.assert_array_equal(workdir.load_run(str(tmp_path / 'resumed')).params['image'],
                                workdir.load_run(str(tmp_path / 'straight')).params['image'])
