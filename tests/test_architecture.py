"""The architecture's rules, checked on the source: research/ has no import
cycles (lazy, function-level imports included), and every `jax.jit` on the
training path is the trainer's (research/step.py)."""

import ast
import os

from testlib import REPO_ROOT

RESEARCH = os.path.join(REPO_ROOT, 'research')


def _modules() -> dict[str, str]:
  """research module name -> file path."""
  found = {}
  for root, _, files in os.walk(RESEARCH):
    for f in files:
      if f.endswith('.py'):
        path = os.path.join(root, f)
        rel = os.path.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
        found[rel[:-len('.__init__')] if rel.endswith('.__init__') else rel] = path
  return found


def import_graph() -> dict[str, set[str]]:
  """Module -> the research modules it imports anywhere in its body. `from P
  import N` imports P.N when that is a module (else P); `import P.Q` imports P.Q."""
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    edges = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        edges |= {a.name for a in node.names if a.name in modules}
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ''
        if node.level:  # relative import
          base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1]
                          + ([base] if base else []))
        for alias in node.names:
          target = f'{base}.{alias.name}'
          edges.add(target if target in modules else base)
    graph[name] = {e for e in edges if e in modules and e != name}
  return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import cycle as a list of modules (first == last), or None."""
  state: dict[str, int] = {}  # 1 visiting, 2 done
  stack: list[str] = []

  def visit(node):
    state[node] = 1
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 1:
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state and (cycle := visit(nxt)):
        return cycle
    stack.pop()
    state[node] = 2
    return None

  for node in sorted(graph):
    if node not in state and (cycle := visit(node)):
      return cycle
  return None


def test_the_cycle_finder_finds_a_planted_cycle():
  graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
  assert find_cycle(graph) == ['a', 'b', 'c', 'a']
  assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_the_graph_sees_lazy_imports():
  graph = import_graph()
  # research.reproduce.runner imports research.train inside a function only.
  assert 'research.train' in graph['research.reproduce.runner']
  assert 'research.tasks.base' in graph['research.tasks.classification']


def test_research_has_no_import_cycles():
  assert find_cycle(import_graph()) is None


# Where `jax.jit` may appear outside the trainer, and why.
JIT_OUTSIDE_THE_TRAINER = {
    'research/sample.py': 'sampling a trained LM: one compiled lax.scan per sample',
    'research/predict.py': 'inference for launch.predict, compiled once per classifier',
    'research/stylize.py': 'inference for launch.stylize, compiled once per image shape',
    'research/tasks/captioning.py': "the frozen encoder's image vectors (once per run) and "
                                    'beam-search decoding after training (inference)',
    'research/plots/classification.py': 'eval-mode predictions for the pictures',
    'research/tasks/spoken_words.py': "the test recordings' words after training (inference)",
    'research/tasks/transcription.py': 'the recordings\' character posteriors after training '
                                       '(inference, one compiled shape per length bucket)',
    'research/tasks/word_baselines.py': 'MFCCs for the GMM and DTW baselines, fitted, not trained',
    'research/demos/': 'self-contained teaching demos, outside the trainer',
}


def test_only_the_trainer_compiles_training_code():
  offenders = []
  for name, path in _modules().items():
    rel = os.path.relpath(path, REPO_ROOT).replace(os.sep, '/')
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    jits = [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr == 'jit'
            and isinstance(n.value, ast.Name) and n.value.id == 'jax']
    allowed = rel == 'research/step.py' or any(
        rel == p or (p.endswith('/') and rel.startswith(p)) for p in JIT_OUTSIDE_THE_TRAINER)
    if jits and not allowed:
      offenders.append(f'{rel}:{jits}')
  assert not offenders, f'jax.jit outside research/step.py: {offenders}'


# Local-only file operations (built-in `open`, os.makedirs/replace/listdir/remove,
# os.path.exists/isdir/isfile/getsize, shutil) may appear outside research/fileio.py
# only here, each on paths that are never a workdir or data path.
LOCAL_FILE_OPERATIONS = {
    'research/fileio.py': 'the one place: local paths here, epath for URLs',
    'research/data/get.py': 'shutil.which: which package tool (npm, pip, apt-get) is missing',
    'research/caption_metrics.py': 'shutil.which: whether Java (for METEOR) is installed',
    'research/data/speech_synth.py': "shutil.which: whether espeak-ng / flite are installed; "
                                     "the synthesiser's temporary WAV",
    'research/config_lib.py': 'config files, which are Python modules in the checkout',
    'research/provenance.py': "the checkout's own .git",
    'research/notebook.py': 'finding the checkout (configs/, research/)',
    'research/reproduce/runner.py': "subprocess console logs, kept local (logs/ for a bucket's runs)",
    'research/demos/translation.py': 'the Debian Fashion-MNIST file a demo reads if installed',
    'research/checkpoint.py': 'shutil.disk_usage of a local checkpoint directory (after is_remote)',
    'research/workdir.py': "--workdir naming a local file (after is_remote); the lock's "
                           'O_EXCL create and /proc/PID/stat',
    'research/kernels/onednn.py': 'shutil.which: the C++ compiler; the compiled library, '
                                  'a local cache file that ctypes loads',
}
_LOCAL_CALLS = {('os', 'makedirs'), ('os', 'replace'), ('os', 'listdir'), ('os', 'remove'),
                ('path', 'exists'), ('path', 'isdir'), ('path', 'isfile'), ('path', 'getsize')}


def local_file_calls(source: str) -> list[str]:
  """'LINE name()' for each local-only file operation in `source`."""
  found = []
  for n in ast.walk(ast.parse(source)):
    if not isinstance(n, ast.Call):
      continue
    f = n.func
    if isinstance(f, ast.Name) and f.id == 'open':
      found.append(f'{n.lineno} open()')
    elif isinstance(f, ast.Attribute) and isinstance(f.value, (ast.Name, ast.Attribute)):
      owner = getattr(f.value, 'id', None) or getattr(f.value, 'attr', None)
      if (owner, f.attr) in _LOCAL_CALLS or owner == 'shutil':
        found.append(f'{n.lineno} {ast.unparse(f)}()')
  return found


def test_the_file_operation_check_finds_planted_calls():
  source = ("import os, shutil\nos.makedirs('x')\nopen('y')\nos.path.exists('z')\n"
            "shutil.rmtree('w')\nfileio.exists('v')\nf.open('u')\n")
  assert local_file_calls(source) == [
      '2 os.makedirs()', '3 open()', '4 os.path.exists()', '5 shutil.rmtree()']


def test_workdir_and_data_files_go_through_fileio():
  offenders = []
  for path in _modules().values():
    rel = os.path.relpath(path, REPO_ROOT).replace(os.sep, '/')
    if rel not in LOCAL_FILE_OPERATIONS:
      with open(path, encoding='utf-8') as f:
        offenders += [f'{rel}:{c}' for c in local_file_calls(f.read())]
  assert not offenders, f'local-only file operations outside research/fileio.py: {offenders}'
