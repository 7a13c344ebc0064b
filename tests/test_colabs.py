"""Every notebook in colabs/ runs end to end in SMOKE mode (small data, few steps),
offline, in a fresh kernel; and each .ipynb is in sync with its jupytext .py source."""

import glob
import os
import re

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
  monkeypatch.setattr(notebook, 'COLAB_CHECKOUT', str(tmp_path / 'absent'))
  with pytest.raises(FileNotFoundError, match='open the notebook from'):
    notebook.repository_root(str(tmp_path))
