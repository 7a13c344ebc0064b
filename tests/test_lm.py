"""Language models end to end: bad input, the n-gram task, sampling, the table."""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from research import errors, kneser_ney, reproduce, sample, train
from research.data import lm_corpus, lm_feeding
from testlib import REPO_ROOT, load_config, quiet, subprocess_env, write_text_corpus


def lm_config(tmp_path, variant='lstm', corpus=None, **overrides):
  """fortunes_char's runlocal shapes on a small corpus under tmp_path."""
  config = quiet(load_config('fortunes_char', f'{variant},runlocal'))
  config.dataset.manual_dir = corpus or write_text_corpus(str(tmp_path / 'corpus'))
  config.dataset.data_dir = str(tmp_path / 'tfds')
  os.makedirs(config.dataset.data_dir, exist_ok=True)
  return quiet(config, **overrides)


def launch(module, *args):
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO_ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=180)


# --- Bad input ------------------------------------------------------------------

def test_empty_corpus_is_a_clear_error(tmp_path):
  os.makedirs(tmp_path / 'empty')
  open(tmp_path / 'empty' / 'a.txt', 'w').close()
  config = lm_config(tmp_path, corpus=str(tmp_path / 'empty'))
  with pytest.raises(errors.DataNotFoundError, match='empty corpus'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_text_that_is_not_utf8_names_file_and_offset(tmp_path):
  os.makedirs(tmp_path / 'latin1')
  with open(tmp_path / 'latin1' / 'old.txt', 'wb') as f:
    f.write('naïve café\n'.encode('latin-1') * 50)
  config = lm_config(tmp_path, corpus=str(tmp_path / 'latin1'))
  with pytest.raises(errors.DataNotFoundError, match=r'old.txt: not valid UTF-8 at byte offset 2'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


def test_sequence_longer_than_the_validation_split(tmp_path):
  # 4000 characters: the validation split (5%) has about 200.
  config = lm_config(tmp_path, seq_len=1000)
  with pytest.raises(errors.ConfigError, match=r'seq_len=1000 is longer than the validation split'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_vocabulary_mismatch_at_restore(tmp_path):
  config = lm_config(tmp_path)
  train.train_and_evaluate(config, str(tmp_path / 'run'))
  # The corpus directory now holds other text, prepared into another data_dir
  # (a change the config check allows): resuming would read the checkpoint's
  # ids as other characters, so it must stop.
  with open(os.path.join(config.dataset.manual_dir, 'corpus.txt'), 'w', encoding='utf-8') as f:
    f.write('xyz! QRS? ' * 400)
  config = lm_config(tmp_path, corpus=config.dataset.manual_dir,
                     **{'dataset.data_dir': str(tmp_path / 'tfds2')})
  os.makedirs(config.dataset.data_dir)
  with pytest.raises(errors.ConfigError, match='Vocabulary mismatch'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


def test_cli_bad_text_input_is_one_error_line(tmp_path):
  os.makedirs(tmp_path / 'empty')
  proc = launch('launch.train', '--config=configs/fortunes_char.py:runlocal',
                f'--config.dataset.manual_dir={tmp_path / "empty"}',
                f'--config.dataset.data_dir={tmp_path}', f'--workdir={tmp_path / "w"}')
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(lines) == 1 and 'is empty' in lines[0] and 'fortunes' in lines[0]
  assert 'Traceback' not in proc.stderr


# --- The n-gram task ----------------------------------------------------------------

def test_ngram_task_scores_the_neural_models_tokens(tmp_path):
  config = lm_config(tmp_path, 'ngram', **{'model.order': 3})
  results = train.train_and_evaluate(config, str(tmp_path / 'kn3'))
  data = lm_feeding.load(config)
  lm = kneser_ney.KneserNeyLM(3, len(data.vocab)).fit(data.ids['train'])
  for split in ('validation', 'test'):
    ids = data.ids[split]
    expected = -np.mean(lm.log_probs(ids[1:], history=ids[:1])) / np.log(2)
    assert results[f'{split}_bits_per_token'] == pytest.approx(expected, rel=1e-12)
    assert results[f'{split}_tokens'] == len(ids) - 1
  on_disk = json.load(open(tmp_path / 'kn3' / 'results.json'))
  assert on_disk['model'] == 'kneser_ney_3' and on_disk['num_params'] == lm.num_ngrams
  assert lm_corpus.Vocabulary.load(str(tmp_path / 'kn3' / 'vocab.json')) == data.vocab
  # The LSTM run on the same data sees the same number of scored tokens.
  lstm = train.train_and_evaluate(lm_config(tmp_path), str(tmp_path / 'lstm'))
  assert lstm['test_tokens'] == results['test_tokens']


# --- Sampling ----------------------------------------------------------------------

@pytest.mark.slow
def test_sampling_is_seeded_and_greedy_is_argmax(tmp_path):
  train.train_and_evaluate(lm_config(tmp_path), str(tmp_path / 'run'))
  workdir = str(tmp_path / 'run')
  draw = lambda **kw: sample.sample_ids(workdir, prompt='the ', **kw)[1]
  a = draw(length=30, temperature=1.0, seed=0)
  b = draw(length=30, temperature=1.0, seed=0)
  c = draw(length=30, temperature=1.0, seed=1)
  assert len(a) == 34 and np.array_equal(a, b) and not np.array_equal(a, c)
  text_a = sample.sample(workdir, prompt='the ', length=30, temperature=1.0, seed=0)
  vocab = sample.load_run(workdir)[1]
  assert text_a == ''.join(vocab.decode(a)) and text_a.startswith('the ')
  # Greedy: every sampled token is the argmax of the model given all before it.
  _, vocab, model, params = sample.load_run(workdir)
  ids = draw(length=12, temperature=0.0, seed=5)
  logits, _ = model.apply({'params': params}, jnp.asarray(ids)[None], model.initial_carry(1))
  np.testing.assert_array_equal(np.argmax(logits[0, 3:-1], -1), ids[4:])


@pytest.mark.slow
def test_sample_cli(tmp_path):
  train.train_and_evaluate(lm_config(tmp_path), str(tmp_path / 'run'))
  proc = launch('launch.sample', f'--workdir={tmp_path / "run"}', '--prompt=the',
                '--length=20', '--temperature=0.5')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.startswith('the') and len(proc.stdout.rstrip('\n')) >= 20
  proc = launch('launch.sample', f'--workdir={tmp_path / "nothing"}')
  assert proc.returncode == 2 and 'config.json not found' in proc.stderr


# --- The table ---------------------------------------------------------------------

@pytest.mark.slow
def test_lm_vs_ngram_table_on_a_small_corpus(tmp_path):
  corpus = write_text_corpus(str(tmp_path / 'corpus'), num_chars=6000)
  table = reproduce.TABLES['lm_vs_ngram']
  overrides = (('dataset.manual_dir', corpus), ('dataset.data_dir', str(tmp_path / 'tfds')),
               ('num_train_steps', 3), ('batch_size', 4), ('eval_batch_size', 4),
               ('seq_len', 8), ('model.hidden_size', 16), ('model.embed_dim', 8),
               ('plot', False), ('tensorboard', False))
  os.makedirs(tmp_path / 'tfds')
  small = reproduce.Table(**{**table.__dict__, 'rows': tuple(
      reproduce.Row(**{**row.__dict__, 'overrides': tuple(
          (k, v) for k, v in overrides
          if row.arg.startswith('ngram') is False or k.startswith('dataset'))})
      for row in table.rows if row.arg in ('ngram,order=3', 'lstm'))})
  per_row = {row.name: reproduce.run_row(small, row, 2, str(tmp_path / 'runs'), REPO_ROOT)
             for row in small.rows}
  assert [len(v) for v in per_row.values()] == [1, 2]  # n-grams are deterministic: one run
  summary = reproduce.summarize(small, per_row)
  text_table = reproduce.render(small, summary)
  assert 'ours: validation' in text_table and 'ours: test' in text_table
  for s in summary:
    for split in ('validation', 'test'):
      values = s['by_split'][split]['values']
      assert values and all(np.isfinite(values))
