"""Text classification: tokenizer, TextCNN / bag-of-words / RNN models, max-norm
and frozen embeddings, the saved vocabulary, predictions, clear errors."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from research import config_lib, errors, optim, predict, train
from research.data import textcls_feeding
from research.models.text import BagOfWords, RNNTextClassifier, TextCNN
from testlib import (REPO_ROOT, load_config, quiet, subprocess_env, write_labelled_text,
                     write_word_vectors)


def text_config(**kw):
  return config_lib.text_classification(**{'max_length': 8, **kw})


def test_vocabulary_comes_from_the_train_split_only():
  tok = textcls_feeding.fit_tokenizer(
      ['The cat sat.', 'the cat ran', 'a dog'], text_config(min_count=1))
  vocab = tok.get_vocab()
  assert vocab['[PAD]'] == 0 and vocab['[UNK]'] == 1
  assert {'the', 'cat', 'sat', 'ran', 'a', 'dog', '.'} <= set(vocab)  # lowercased
  ids = textcls_feeding.encode(tok, ['The zebra sat on the cat and ran far away'])
  assert ids.shape == (1, 8)  # truncated to max_length
  words = textcls_feeding.tokens_of(tok, 'the zebra sat')
  assert words == ['the', '[UNK]', 'sat']  # 'zebra' is not a train word
  short = textcls_feeding.encode(tok, ['cat'])[0]
  assert short[0] == vocab['cat'] and list(short[1:]) == [0] * 7  # padded at the end
  # min_count: words seen once are out.
  tok2 = textcls_feeding.fit_tokenizer(['the cat', 'the dog'], text_config(min_count=2))
  assert set(tok2.get_vocab()) == {'[PAD]', '[UNK]', 'the'}
  # Deterministic: the same texts give the same ids.
  again = textcls_feeding.fit_tokenizer(['The cat sat.', 'the cat ran', 'a dog'], text_config())
  assert again.get_vocab() == vocab


def test_textcnn_max_over_time_ignores_where_the_phrase_is():
  model = TextCNN(num_classes=3, vocab_size=20, embed_dim=8, window_sizes=(2, 3), num_filters=4)
  a = jnp.array([[5, 6, 7, 0, 0, 0, 0, 0]])
  b = jnp.array([[0, 0, 0, 5, 6, 7, 0, 0]])  # same phrase, shifted by padding
  params = model.init(jax.random.key(0), a)['params']
  np.testing.assert_allclose(model.apply({'params': params}, a),
                             model.apply({'params': params}, b), rtol=1e-6)
  c = jnp.array([[7, 6, 5, 0, 0, 0, 0, 0]])  # other order: other n-grams
  assert not np.allclose(model.apply({'params': params}, a), model.apply({'params': params}, c))
  maps = model.apply({'params': params}, a, method=TextCNN.feature_maps)
  # 8 ids + 2 x (3 - 1) padding columns: 12 - h + 1 positions per window size h.
  assert [m.shape for m in maps] == [(1, 11, 4), (1, 10, 4)]


def test_bag_of_words_is_logistic_regression_on_counts():
  model = BagOfWords(num_classes=3, vocab_size=6)
  ids = jnp.array([[2, 3, 2, 0], [5, 0, 0, 0]])
  params = model.init(jax.random.key(0), ids)['params']
  params = {'embed': {'embedding': jax.random.normal(jax.random.key(1), (6, 3))},
            'bias': jnp.array([0.1, -0.2, 0.3])}
  counts = np.zeros((2, 6))
  counts[0, 2], counts[0, 3], counts[1, 5] = 2, 1, 1  # padding (id 0) not counted
  want = counts @ np.asarray(params['embed']['embedding']) + np.asarray(params['bias'])
  np.testing.assert_allclose(model.apply({'params': params}, ids), want, rtol=1e-6)


def test_rnn_text_classifier_reads_up_to_the_last_real_word():
  model = RNNTextClassifier(num_classes=2, vocab_size=10, embed_dim=4, hidden_size=5, cell='lstm')
  ids = jnp.array([[3, 4, 5, 0, 0, 0]])
  params = model.init(jax.random.key(0), ids)['params']
  longer = jnp.array([[3, 4, 5, 0, 0, 0, 0, 0, 0]])  # more padding, same words
  np.testing.assert_allclose(model.apply({'params': params}, ids),
                             model.apply({'params': params}, longer), rtol=1e-5)
  other = jnp.array([[3, 4, 6, 0, 0, 0]])
  assert not np.allclose(model.apply({'params': params}, ids), model.apply({'params': params}, other))


def test_max_norm_keeps_output_weights_in_the_ball_and_frozen_params_stay():
  config = ml_collections.ConfigDict({'optimizer': config_lib.optimizer(
      'sgd', learning_rate=10.0, max_norm=3.0, frozen_modules=('embed',)),
      'schedule': config_lib.schedule('constant')})
  tx, _ = optim.make_optimizer(config, 10)
  params = {'embed': {'embedding': jnp.ones((4, 2))},
            'out': {'kernel': jnp.ones((2, 3)), 'bias': jnp.zeros(3)}}
  grads = {'embed': {'embedding': jnp.ones((4, 2))},
           'out': {'kernel': -jnp.arange(6.0).reshape(2, 3), 'bias': -jnp.ones(3)}}
  updates, _ = tx.update(grads, tx.init(params), params)
  new = optax.apply_updates(params, updates)
  np.testing.assert_array_equal(new['embed']['embedding'], params['embed']['embedding'])
  norms = np.linalg.norm(new['out']['kernel'], axis=0)
  np.testing.assert_allclose(norms, [3.0, 3.0, 3.0], rtol=1e-6)  # every column was > 3
  np.testing.assert_allclose(new['out']['bias'], 10.0)  # biases are not constrained
  bad = ml_collections.ConfigDict(config.to_dict())
  bad.optimizer.frozen_modules = ('embedding',)
  tx, _ = optim.make_optimizer(bad, 10)
  with pytest.raises(errors.ConfigError, match='frozen_modules names'):
    tx.init(params)


def fortunes_run(tmp_path, name='run', **overrides):
  config = quiet(load_config('fortunes_textcnn', 'cnn,runlocal'), **overrides)
  config.dataset.manual_dir = write_labelled_text(str(tmp_path / 'labelled'))
  config.dataset.data_dir = str(tmp_path / 'tfds')
  os.makedirs(config.dataset.data_dir, exist_ok=True)
  return config, str(tmp_path / name)


def test_vocabulary_round_trips_through_the_workdir(tmp_path):
  config, workdir = fortunes_run(tmp_path, num_train_steps=6)
  results = train.train_and_evaluate(config, workdir)
  classifier = predict.load_classifier(workdir)
  assert classifier.step == 6 and classifier.class_names == ['food', 'law', 'love']
  # The restored classifier reproduces the run's own test accuracy exactly.
  from research import parallel
  feeder = textcls_feeding.TextClassificationFeeder(config, parallel.make_mesh())
  assert classifier.tokenizer.get_vocab() == feeder.tokenizer.get_vocab()
  probs = predict.predict(classifier, feeder.eval_texts)
  accuracy = float(np.mean(probs.argmax(-1) == feeder.eval_labels_host))
  assert accuracy == pytest.approx(results['test_accuracy'])
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  # A resumed run whose data gives another vocabulary is refused.
  changed, _ = fortunes_run(tmp_path, num_train_steps=8)
  law = os.path.join(changed.dataset.manual_dir, 'law')
  with open(law, encoding='utf-8') as f:
    quotes = f.read()
  with open(law, 'w', encoding='utf-8') as f:
    f.write(quotes.replace('judge', 'magistrate'))  # a new train word, an old one gone
  changed.dataset.data_dir = str(tmp_path / 'tfds2')
  os.makedirs(changed.dataset.data_dir)
  with pytest.raises(errors.ConfigError, match='Vocabulary mismatch'):
    train.train_and_evaluate(changed, workdir)


@pytest.mark.slow
def test_predict_cli_and_its_errors(tmp_path):
  config, workdir = fortunes_run(tmp_path)
  train.train_and_evaluate(config, workdir)
  cli = [sys.executable, '-m', 'launch.predict', f'--workdir={workdir}']
  out = subprocess.run(cli + ['cheese soup and bread', 'the judge'], cwd=REPO_ROOT,
                       env=subprocess_env(), capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  assert out.stdout.count('words read') == 2 and 'cheese soup [UNK] bread' in out.stdout
  empty = subprocess.run(cli + ['   '], cwd=REPO_ROOT, env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
  assert empty.returncode == 2 and 'empty' in empty.stderr
  with pytest.raises(errors.ConfigError, match='not a text classifier'):
    digits = quiet(load_config('digits_perceptron'), num_train_steps=2)
    train.train_and_evaluate(digits, str(tmp_path / 'digits'))
    predict.load_classifier(str(tmp_path / 'digits'))


@pytest.mark.slow
def test_pretrained_vectors_fill_the_embedding_and_wrong_dimension_is_refused(tmp_path):
  config, workdir = fortunes_run(tmp_path, num_train_steps=2)
  config.text.vectors_path = write_word_vectors(str(tmp_path / 'v.bin'), 16, ('bread', 'judge'))
  config.optimizer.frozen_modules = ('embed',)  # CNN-static: the vectors stay as loaded
  train.train_and_evaluate(config, workdir)
  classifier = predict.load_classifier(workdir)
  vocab = classifier.tokenizer.get_vocab()
  table = np.asarray(classifier.params['embed']['embedding'])
  from research.data import word_vectors
  want, found = word_vectors.load_word_vectors(
      config.text.vectors_path, sorted(vocab, key=vocab.get), 16)
  assert found == 2
  np.testing.assert_array_equal(table, want)
  wrong, workdir2 = fortunes_run(tmp_path, name='run2', num_train_steps=2)
  wrong.text.vectors_path = write_word_vectors(str(tmp_path / 'v8.bin'), 8)
  with pytest.raises(errors.UserError, match='8'):
    train.train_and_evaluate(wrong, workdir2)


def test_text_models_and_image_data_do_not_mix(tmp_path):
  config = quiet(load_config('digits_mlp'))
  config.model = ml_collections.ConfigDict({'name': 'bag_of_words'})
  with pytest.raises(errors.ConfigError, match='reads word ids'):
    train.train_and_evaluate(config, str(tmp_path / 'x'))
  assert not os.path.exists(tmp_path / 'x')


def test_max_norm_on_a_module_the_model_lacks_is_named():
  config = ml_collections.ConfigDict({'optimizer': config_lib.optimizer(
      'adam', learning_rate=1e-3, max_norm=3.0, max_norm_modules=('classifier',)),
      'schedule': config_lib.schedule('constant')})
  tx, _ = optim.make_optimizer(config, 10)
  with pytest.raises(errors.ConfigError, match='max_norm_modules names'):
    tx.init({'out': {'kernel': jnp.ones((2, 3))}})


@pytest.mark.parametrize('texts, labels, match', [
    ([b'a fine film', b'dull'], [1, -1], 'outside the label set'),
    ([b'a fine film', b'   '], [1, 0], 'empty text')])
def test_hidden_labels_and_empty_texts_in_a_split_are_refused(texts, labels, match):
  import tensorflow as tf
  import tensorflow_datasets as tfds

  def as_dataset(self, split, batch_size=None, **kwargs):
    del self, split, kwargs
    ds = tf.data.Dataset.from_tensor_slices(
        {'sentence': tf.constant(texts), 'label': tf.constant(labels, tf.int64),
         'idx': tf.constant([0, 1], tf.int32)})
    return ds.batch(batch_size) if batch_size else ds

  config = load_config('sst2_textcnn', 'rand')
  with tfds.testing.mock_data(as_dataset_fn=as_dataset):
    with pytest.raises(errors.DataNotFoundError, match=match):
      textcls_feeding.load_texts(config.dataset, 'test')


def test_length_keeping_known_answers():
  # Lengths 1, 2, 3, 10: 16 words. Cut at L, sum(min(len, L)) words are kept.
  assert textcls_feeding.length_keeping([1, 2, 3, 10], coverage=0.95) == 10  # L=9 keeps 15 < 15.2
  assert textcls_feeding.length_keeping([1, 2, 3, 10], coverage=0.5) == 3    # L=2 keeps 7 < 8
  assert textcls_feeding.length_keeping([5, 5, 5], coverage=1.0) == 5


def test_max_length_auto_is_fitted_to_the_users_texts(tmp_path, capsys):
  import json
  config, workdir = fortunes_run(tmp_path, num_train_steps=2)
  config.text.max_length = 'auto'
  train.train_and_evaluate(config, workdir)
  train_texts, _, _ = textcls_feeding.load_texts(config.dataset, config.dataset.train_split)
  words = [len(textcls_feeding.tokens_of(predict.load_classifier(workdir).tokenizer, t))
           for t in train_texts]
  expected = textcls_feeding.length_keeping(words)
  with open(os.path.join(workdir, textcls_feeding.TOKENIZER_FILE), encoding='utf-8') as f:
    assert json.load(f)['truncation']['max_length'] == expected
  assert f'text.max_length=auto: {expected} words per text' in capsys.readouterr().out


def test_a_max_length_that_cuts_most_words_is_reported_with_a_better_one(tmp_path, capsys):
  config, workdir = fortunes_run(tmp_path, num_train_steps=2, **{'text.max_length': 3})
  train.train_and_evaluate(config, workdir)
  warnings = [l for l in capsys.readouterr().out.splitlines() if l.startswith('WARNING: ')]
  assert len(warnings) == 1
  assert 'text.max_length=3 keeps' in warnings[0] and '=auto' in warnings[0]


def test_a_vocabulary_cut_off_that_hides_many_words_is_reported(tmp_path, capsys):
  config, workdir = fortunes_run(tmp_path, num_train_steps=2, **{'text.max_vocab': 4})
  train.train_and_evaluate(config, workdir)
  out = capsys.readouterr().out
  assert "WARNING: " in out and 'outside the vocabulary (text.max_vocab=4' in out


@pytest.mark.parametrize('bad', ['autox', 0, -3])
def test_bad_max_length_is_refused(tmp_path, bad):
  config, workdir = fortunes_run(tmp_path, **{'text.max_length': bad})
  with pytest.raises(errors.ConfigError, match="text.max_length=.*'auto'"):
    train.train_and_evaluate(config, workdir)
  assert not os.path.exists(workdir)
