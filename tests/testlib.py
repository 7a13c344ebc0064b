"""Helpers shared by the tests (importable as `testlib`; conftest puts tests/ on the path)."""

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NetworkAccessInTest(RuntimeError):
  pass


def refuse_download(*args, **kwargs):
  # An unmocked TFDS download here retries for ~200 s before failing; fail now.
  raise NetworkAccessInTest(
      'A test tried to download data. Use tfds.testing.mock_data or a '
      'project builder that builds offline.')


def load_config(name: str, arg: str | None = None):
  """Loads configs/NAME.py the way `--config=configs/NAME.py[:ARG]` does."""
  import importlib.util
  path = os.path.join(REPO_ROOT, 'configs', f'{name}.py')
  spec = importlib.util.spec_from_file_location(f'configs_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def subprocess_env(**extra):
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  env.update(extra)
  return env


def config_names() -> list[str]:
  return sorted(f[:-3] for f in os.listdir(os.path.join(REPO_ROOT, 'configs'))
                if f.endswith('.py') and not f.startswith('_'))


def quiet(config, **overrides):
  """Test-friendly outputs: no TensorBoard/plots unless asked for."""
  config.tensorboard = False
  config.plot = False
  for key, value in overrides.items():
    node = config
    *parents, leaf = key.split('.')
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


def restore_state_tree(workdir: str, step: int):
  """The raw saved train state (nested dicts of numpy arrays)."""
  import orbax.checkpoint as ocp
  path = os.path.join(os.path.abspath(workdir), 'checkpoints', str(step), 'state')
  return ocp.StandardCheckpointer().restore(path)
