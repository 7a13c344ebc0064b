"""Every notebook in colabs/ runs end to end in SMOKE mode (small data, few steps),
offline, in a fresh kernel; and each .ipynb is in sync with its jupytext .py source."""

import glob
import os
import re
import subprocess
import sys

import pytest

from testlib import REPO_ROOT

SOURCES = sorted(glob.glob(os.path.join(REPO_ROOT, 'colabs', '*.py')))
CELL_TIMEOUT_S = 600


def test_readme_lists_exactly_the_notebooks_there_are():
  # The README's notebook table is how users find them: a notebook missing
  # from it (or a listed one that was removed or renamed) is a bug. It also
  # keeps the parametrized tests below from running on an empty list.
  with open(os.path.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
    readme = f.read()
  section = readme[readme.index('### In Colab'):readme.index('## Tables, benchmarks')]
  listed = set(re.findall(r'^\| `(\w+)` \|', section, flags=re.M))
  present = {os.path.splitext(os.path.basename(s))[0] for s in SOURCES}
  assert present and listed == present, (sorted(listed), sorted(present))


@pytest.mark.parametrize('source', SOURCES, ids=os.path.basename)
def test_ipynb_is_in_sync_with_its_source(source):
  import jupytext
  import nbformat

  notebook = os.path.splitext(source)[0] + '.ipynb'
  assert os.path.exists(notebook), f'run: jupytext --sync {source}'
  want = [(c.cell_type, c.source) for c in jupytext.read(source).cells]
  got = [(c.cell_type, c.source) for c in nbformat.read(notebook, as_version=4).cells]
  assert got == want, f'{notebook} is stale: run `jupytext --sync {source}`'
  # Committed notebooks carry no outputs (readable diffs, no stale results).
  assert all(not c.get('outputs') for c in nbformat.read(notebook, as_version=4).cells)


@pytest.mark.slow
@pytest.mark.parametrize('source', SOURCES, ids=os.path.basename)
def test_notebook_runs_in_smoke_mode(source, tmp_path, monkeypatch, tfds_data_dir):
  import nbclient
  import nbformat

  notebook = nbformat.read(os.path.splitext(source)[0] + '.ipynb', as_version=4)
  # The kernel inherits this environment: small mode, a private runs dir, the
  # session's private TFDS dir, and no way to download (the notebooks mock
  # public datasets in SMOKE mode; a download attempt fails at once).
  monkeypatch.setenv('CLASSICNETS_SMOKE', '1')
  monkeypatch.setenv('CLASSICNETS_RUNS', str(tmp_path / 'runs'))
  monkeypatch.setenv('TFDS_DATA_DIR', tfds_data_dir)
  monkeypatch.setenv('MPLBACKEND', 'Agg')
  monkeypatch.setenv('NO_PROXY', '*')
  monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:9')  # Any download fails fast.
  monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9')
  client = nbclient.NotebookClient(
      notebook, timeout=CELL_TIMEOUT_S, kernel_name='python3',
      resources={'metadata': {'path': os.path.join(REPO_ROOT, 'colabs')}})
  client.execute()  # Raises CellExecutionError, with the cell and traceback, on any error.


def test_notebook_setup_finds_the_repository_or_says_how(tmp_path, monkeypatch):
  from research import notebook
  assert notebook.repository_root(os.path.join(REPO_ROOT, 'colabs')) == REPO_ROOT
  monkeypatch.setenv('CLASSICNETS_CHECKOUT', str(tmp_path / 'absent'))
  with pytest.raises(FileNotFoundError, match='open the notebook from'):
    notebook.repository_root(str(tmp_path))


def _first_code_cell(source: str) -> str:
  import jupytext
  return next(c.source for c in jupytext.read(source).cells if c.cell_type == 'code')


def test_every_notebook_starts_with_the_same_setup_naming_the_projects_repository():
  import tomllib
  with open(os.path.join(REPO_ROOT, 'pyproject.toml'), 'rb') as f:
    repo = tomllib.load(f)['project']['urls']['Repository']
  cells = {_first_code_cell(s) for s in SOURCES}
  assert len(cells) == 1  # one setup, copied into each self-contained notebook
  assert f"REPO = '{repo}'" in cells.pop()
  with open(os.path.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
    readme = f.read()
  for source in SOURCES:  # every notebook has its "Open in Colab" link
    name = os.path.splitext(os.path.basename(source))[0]
    assert (f'https://colab.research.google.com/github/{repo.split("github.com/")[1]}'
            f'/blob/main/colabs/{name}.ipynb') in readme, name


@pytest.mark.slow
def test_in_colab_the_first_cell_clones_installs_and_the_notebook_runs(
    tmp_path, monkeypatch, tfds_data_dir):
  """The Colab branch, forced: a fake google.colab module, the repository
  cloned from file:// (the committed tree, as Colab would get it), install.sh
  run with pip in --dry-run (this environment must not be changed), then the
  param_count notebook (every notebook shares that first cell; this one runs in
  seconds) from the clone."""
  import nbclient
  import nbformat

  checkout = tmp_path / 'checkout'
  monkeypatch.setenv('CLASSICNETS_REPO', f'file://{REPO_ROOT}')
  monkeypatch.setenv('CLASSICNETS_CHECKOUT', str(checkout))
  monkeypatch.setenv('CLASSICNETS_PIP_ARGS', '--dry-run --no-index')
  monkeypatch.setenv('CLASSICNETS_SMOKE', '1')
  monkeypatch.setenv('CLASSICNETS_RUNS', str(tmp_path / 'runs'))
  monkeypatch.setenv('TFDS_DATA_DIR', tfds_data_dir)
  monkeypatch.setenv('MPLBACKEND', 'Agg')
  # google.colab stand-in, with the `output` module JAX's debugger imports from it.
  fake_colab = ("import sys, types; colab = types.ModuleType('google.colab'); "
                "colab.output = types.ModuleType('google.colab.output'); "
                "sys.modules.update({'google.colab': colab, 'google.colab.output': colab.output})")
  probe = ('import research, os; '
           "print('RESEARCH', os.path.dirname(os.path.dirname(research.__file__))); "
           "print('CWD', os.getcwd())")
  cell = _first_code_cell(os.path.join(REPO_ROOT, 'colabs', 'param_count.py'))
  proc = subprocess.run([sys.executable, '-c', '\n'.join([fake_colab, cell, probe])],
                        cwd=tmp_path, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert f'RESEARCH {checkout}' in proc.stdout and f'CWD {checkout}' in proc.stdout
  assert 'JAX ' in proc.stdout  # install.sh ran to its end
  assert (checkout / 'colabs' / 'param_count.ipynb').exists()

  notebook = nbformat.read(str(checkout / 'colabs' / 'param_count.ipynb'), as_version=4)
  # The fake module only takes the first cell down its Colab branch; other
  # libraries look deeper into a real google.colab, so it goes after that cell.
  first = next(i for i, c in enumerate(notebook.cells) if c.cell_type == 'code')
  notebook.cells.insert(first + 1, nbformat.v4.new_code_cell(
      "import sys; del sys.modules['google.colab'], sys.modules['google.colab.output']"))
  notebook.cells.insert(first, nbformat.v4.new_code_cell(fake_colab))
  notebook.cells.append(nbformat.v4.new_code_cell(probe))
  client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name='python3',
                                   resources={'metadata': {'path': str(tmp_path)}})
  client.execute()  # every cell, the clone's code: raises on any error
  printed = ''.join(o.get('text', '') for o in notebook.cells[-1].get('outputs', ()))
  assert f'RESEARCH {checkout}' in printed and f'CWD {checkout}' in printed


def test_colab_install_keeps_the_runtimes_jax_and_tensorflow_and_adds_what_is_missing():
  from packaging.requirements import Requirement

  from launch import colab_requirements
  requirements = colab_requirements.project_requirements(os.path.join(REPO_ROOT, 'pyproject.toml'))
  names = {r.name for r in requirements}
  assert {'jax', 'tensorflow-cpu', 'flax', 'optax'} <= names
  # A Colab-like runtime: its own JAX and TensorFlow (other versions than the
  # pins), flax missing, optax too old.
  colab = {'jax': '0.7.1', 'tensorflow': '2.19.0', 'optax': '0.1.0'}
  req = [Requirement(s) for s in ('jax>=0.10.2,<0.11', 'tensorflow-cpu>=2.21,<2.22',
                                  'flax>=0.12.8,<0.13', 'optax>=0.2.8,<0.3', 'numpy>=1.26')]
  colab['numpy'] = '2.0.2'
  assert colab_requirements.missing(req, colab.get) == ['flax<0.13,>=0.12.8', 'optax<0.3,>=0.2.8']
  # Where no JAX is installed at all, it is listed like anything else.
  del colab['jax']
  assert 'jax<0.11,>=0.10.2' in colab_requirements.missing(req, colab.get)
  # This environment (installed from pyproject.toml) lacks nothing.
  assert colab_requirements.missing(requirements) == []
