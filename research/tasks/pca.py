"""Principal component analysis as a reconstruction baseline (the PCA rows of
Hinton & Salakhutdinov 2006): the `num_components` leading eigenvectors of
the train split's pixel covariance; a test image is reconstructed from its
projection onto them. Same data path and metric as the autoencoder task
(`test_squared_error`: squared error per image, pixels in [0, 1]), fitted in
closed form (no steps, no seed), so a results table reads both alike.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from research import config_lib, errors, fileio, writers
from research import workdir as workdir_lib
from research.data import DATASETS, images
from research.plots import autoencoder as pictures
from research.tasks import autoencoder, base

MODELS = {'pca': None}


def check_config(config) -> None:
  config_lib.check_choice('dataset', config.dataset.name, DATASETS)
  config_lib.check_choice('model', config.model.name, MODELS)
  if config.model.num_components < 1:
    raise errors.ConfigError(f'model.num_components must be >= 1, got {config.model.num_components}.')
  if config.preprocess.standardize:
    raise errors.ConfigError('PCA is compared on pixels in [0, 1]: set preprocess.standardize=False.')


def fit_and_evaluate(config, workdir: str) -> dict[str, Any]:
  """Fits PCA on the train split, scores the eval split; writes config.json,
  results.json and reconstructions.png (refitting is cheap: a rerun refits)."""
  check_config(config)
  data = images.load(config)
  workdir_lib.prepare(workdir, config)
  x_train = data.train_inputs.reshape(len(data.train_inputs), -1)
  x_test = data.eval_inputs.reshape(len(data.eval_inputs), -1)
  k = config.model.num_components
  if k > x_train.shape[1]:
    raise errors.ConfigError(f'{k} components exceed the {x_train.shape[1]} input dimensions.')
  t0 = time.perf_counter()
  mean, components = autoencoder.pca_fit(x_train, k)
  train_seconds = time.perf_counter() - t0
  recon = autoencoder.pca_reconstruct(x_test, mean, components)
  errors_per_image = np.sum((np.clip(recon, 0.0, 1.0) - x_test) ** 2, axis=-1)
  unclipped = np.sum((recon - x_test) ** 2, axis=-1)
  results = dict(
      test_squared_error=float(errors_per_image.mean()),
      test_squared_error_unclipped=float(unclipped.mean()),
      test_examples=float(len(x_test)), steps=0, train_seconds=train_seconds,
      num_params=int(components.size + mean.size), num_devices=0,
      dataset=config.dataset.name, model=f'pca_{k}')
  workdir_lib.write_results(workdir, results)
  if config.plot:
    pictures.plot_reconstructions(x_test[:10], recon[:10], recon[:10], data.eval_inputs.shape[1:],
                               k, fileio.join(workdir, 'reconstructions.png'))
  writers.log(f'PCA, {k} components: test squared error per image '
              f'{results["test_squared_error"]:.3f}')
  return results


TASK = base.FittedTask(name='pca', models=MODELS, check_config=check_config,
                       fit_and_evaluate=fit_and_evaluate)
