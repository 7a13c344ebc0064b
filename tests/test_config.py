"""Configs: every file loads and resolves; ARG parsing; overrides are typed."""

import pytest

from research import config_lib, errors, train
from testlib import config_names, load_config


@pytest.mark.parametrize('name', config_names())
@pytest.mark.parametrize('arg', [None, 'runlocal'])
def test_every_config_resolves(name, arg):
  config = load_config(name, arg)
  train.check_config(config)
  assert config.task and config.dataset.name and config.model.name
  if arg == 'runlocal':
    assert 0 < config.num_train_steps <= 20
  # Every config documents how to reproduce it.
  module_doc = open(f'configs/{name}.py').read()
  assert 'python -m launch.train --config=configs/' + name in module_doc


def test_configs_are_locked_against_typos():
  config = load_config('digits_lenet5')  # locked, as --config= loads it
  with pytest.raises(AttributeError):
    config.batchsize = 3
  with pytest.raises(TypeError):
    config.batch_size = 'large'


def test_parse_arg_types_and_flags():
  arg = config_lib.parse_arg('runlocal,depth=3,width=64,lr=0.5,name=x',
                             runlocal=False, depth=1, width=256, lr=1.0, name='y')
  assert arg.runlocal is True and arg.depth == 3 and arg.width == 64
  assert arg.lr == 0.5 and arg.name == 'x'
  assert config_lib.parse_arg(None, runlocal=False).runlocal is False


@pytest.mark.parametrize('bad,match', [
    ('runlocl', 'Unknown config argument'),
    ('depth=three', 'is not a int'),
    ('runlocal=maybe', 'is not a bool'),
])
def test_parse_arg_errors(bad, match):
  with pytest.raises(errors.ConfigError, match=match):
    config_lib.parse_arg(bad, runlocal=False, depth=1)


def test_positional_arg():
  assert load_config('cifar10_resnet', '56').model.depth == 56
  assert load_config('cifar10_resnet', '110,runlocal').schedule.warmup_steps == 400
  with pytest.raises(errors.ConfigError, match='Unknown config argument'):
    load_config('cifar10_resnet', '56,57')


def test_mlp_variant_sets_depth_and_width():
  config = load_config('digits_mlp', 'depth=3,width=64')
  assert tuple(config.model.hidden_sizes) == (64, 64, 64)


def test_perceptron_variants_pick_the_loss():
  assert load_config('digits_perceptron').loss == 'perceptron'
  assert load_config('digits_perceptron', 'softmax').loss == 'softmax_cross_entropy'
