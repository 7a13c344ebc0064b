"""The labelled_text builder: its three layouts, the stratified split, its errors."""

from __future__ import annotations

import csv
import io
import json
import os

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from research import config_lib
from research.data import datasets
from research.data import registry
from research.data.builders import labelled_text
from research.data.builders.labelled_text import (
    class_counts, class_names, find_layout, hold_out, parse_fortunes, read_labelled_examples,
    stratified_split)


def write(path, content):
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  mode = 'wb' if isinstance(content, bytes) else 'w'
  with open(path, mode, **({} if mode == 'wb' else {'encoding': 'utf-8', 'newline': ''})) as f:
    f.write(content)
  return str(path)


def csv_text(rows, header=('id', 'text', 'label')):
  out = io.StringIO()
  writer = csv.writer(out, lineterminator='\r\n')
  writer.writerow(header)
  writer.writerows(rows)
  return out.getvalue()


def jsonl_text(records):
  return ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records)


def build(data_dir, manual_dir):
  builder = tfds.builder('labelled_text', data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def read_back(builder):
  """Split -> [(text, label name)] of a prepared builder, in stored order."""
  names = builder.info.features['label'].names
  out = {}
  for split in labelled_text.SPLITS:
    ds = builder.as_dataset(split=split, shuffle_files=False)
    out[split] = [(ex['text'].decode('utf-8'), names[ex['label']]) for ex in tfds.as_numpy(ds)]
  return out


def ten_per_class(labels):
  """10 examples per class, classes interleaved, texts naming class and index."""
  return [(f'{label} example {i}', label) for i in range(10) for label in labels]


# --- The three layouts, built with TFDS --------------------------------------------

def test_tabular_csv_layout_builds(tmp_path):
  train = [(1, 'plain text', 'pos'), (2, 'a comma, "quotes" and\r\na line break', 'neg'),
           (3, 'naïve café ☕', ' pos '), (4, 'fourth', 'neutral')]
  write(tmp_path / 'data/train.csv', '\ufeff' + csv_text(train))  # a BOM, dropped
  write(tmp_path / 'data/dev.csv', csv_text([(5, 'dev text', 'neg')]))
  write(tmp_path / 'data/test.csv', csv_text([('pos', 'test one', 6), ('neutral', 'test two', 7)],
                                             header=('label', 'text', 'extra')))
  write(tmp_path / 'data/notes.txt', 'not read\n')
  builder = build(tmp_path / 'tfds', tmp_path / 'data')
  assert builder.info.features['label'].names == ['neg', 'neutral', 'pos']
  assert read_back(builder) == {
      'train': [('plain text', 'pos'), ('a comma, "quotes" and\r\na line break', 'neg'),
                ('naïve café ☕', 'pos'), ('fourth', 'neutral')],
      'validation': [('dev text', 'neg')],
      'test': [('test one', 'pos'), ('test two', 'neutral')],  # columns found by the header
  }
  assert builder.info.splits['train'].num_examples == 4
  assert builder.info.supervised_keys is not None
  meta = builder.info.metadata
  assert meta['layout'] == 'tabular'
  assert meta['sources'] == {'train': 'train.csv', 'validation': 'dev.csv', 'test': 'test.csv'}
  assert meta['class_counts']['train'] == {'neg': 1, 'neutral': 1, 'pos': 2}
  # Names and metadata survive a reload from data_dir alone.
  reloaded = tfds.builder('labelled_text', data_dir=str(tmp_path / 'tfds'))
  assert reloaded.is_prepared()
  assert reloaded.info.features['label'].names == ['neg', 'neutral', 'pos']
  assert reloaded.info.metadata['class_counts'] == meta['class_counts']


def test_class_folder_layout_builds_with_a_stratified_split(tmp_path):
  for text, label in ten_per_class(['zebra', 'ant', 'mole']):
    index = text.rsplit(' ', 1)[1]
    write(tmp_path / f'data/{label}/{int(index):02d}.txt', text + '\n')
  write(tmp_path / 'data/ant/readme.md', 'not a *.txt file\n')
  write(tmp_path / 'data/LICENSE', 'a file directly in DIR is not read\n')
  write(tmp_path / 'data/.hidden/x.txt', 'hidden folder\n')
  builder = build(tmp_path / 'tfds', tmp_path / 'data')
  assert builder.info.features['label'].names == ['ant', 'mole', 'zebra']
  splits = read_back(builder)
  assert {k: len(v) for k, v in splits.items()} == {'train': 24, 'validation': 3, 'test': 3}
  assert builder.info.metadata['class_counts'] == {
      split: {'ant': n, 'mole': n, 'zebra': n}
      for split, n in (('train', 8), ('validation', 1), ('test', 1))}
  assert builder.info.metadata['layout'] == 'class_folders'
  assert builder.info.metadata['sources']['validation'] == 'cut from train: 80/10/10 per class'
  # Texts are the files as written; every file lands in exactly one split.
  everything = sorted(ex for examples in splits.values() for ex in examples)
  assert everything == sorted((text + '\n', label) for text, label in ten_per_class(
      ['zebra', 'ant', 'mole']))
  # The split is the one the plain function computes (same order, too).
  assert splits == read_labelled_examples(str(tmp_path / 'data'))


def fortunes_like(directory, outside):
  """Debian-fortunes-like files: '%'-separated quotes, .dat indexes, .u8 links, off/."""
  quotes = {
      'zeta': ''.join(f'Zeta quote {i},\n  on two lines.\n%\n' for i in range(10)),
      # No trailing '%', an empty example ('%' twice) and a CRLF separator.
      'alpha': ('%\n' + ''.join(f'  Alpha {i} naïve\n%\n' for i in range(9))
                + '%\r\n\n' + 'Alpha 9 last\n'),
  }
  for name, text in quotes.items():
    write(f'{directory}/{name}', text)
    os.symlink(name, f'{directory}/{name}.u8')
  write(f'{directory}/alpha.dat', b'\x00\x00\x00\x02\xff\xfe\x80%\x00')  # not UTF-8
  write(f'{directory}/.hidden', 'hidden\n%\nnot read\n')
  write(f'{directory}/off/rotated', 'offensive\n%\nnot read\n' * 10)
  write(f'{outside}/mid', ''.join(f'Mid {i}\n%\n' for i in range(10)))
  os.symlink(os.path.join(outside, 'mid'), f'{directory}/mid')  # outside: a class


def test_fortune_layout_builds(tmp_path):
  fortunes_like(tmp_path / 'fortunes', tmp_path / 'elsewhere')
  assert find_layout(str(tmp_path / 'fortunes'))[0] == 'fortunes'
  builder = build(tmp_path / 'tfds', tmp_path / 'fortunes')
  assert builder.info.features['label'].names == ['alpha', 'mid', 'zeta']
  splits = read_back(builder)
  assert {k: len(v) for k, v in splits.items()} == {'train': 24, 'validation': 3, 'test': 3}
  texts = {label: sorted(t for ex in splits.values() for t, l in ex if l == label)
           for label in ('alpha', 'mid', 'zeta')}
  assert texts['alpha'] == sorted([f'Alpha {i} naïve' for i in range(9)] + ['Alpha 9 last'])
  assert texts['mid'] == sorted(f'Mid {i}' for i in range(10))
  assert texts['zeta'] == sorted(f'Zeta quote {i},\n  on two lines.' for i in range(10))
  assert builder.info.metadata['sources'] == {
      'train': '.', 'validation': 'cut from train: 80/10/10 per class',
      'test': 'cut from train: 80/10/10 per class'}


def test_parse_fortunes_known_answers():
  assert parse_fortunes('a\n%\n b \n%\n') == ['a', 'b']
  assert parse_fortunes('%\n\n%\n  \n%\r\nx\n 100% sure\n%%\n') == ['x\n 100% sure\n%%']
  assert parse_fortunes('') == [] and parse_fortunes('%\n%\n') == []


# --- Splits -----------------------------------------------------------------------

def test_stratified_split_is_deterministic_and_stratified():
  examples = ten_per_class(['b', 'a', 'c'])
  splits = stratified_split(examples)
  assert class_counts(splits) == {split: {'a': n, 'b': n, 'c': n}
                                  for split, n in (('train', 8), ('validation', 1), ('test', 1))}
  # Known answer: within each class, default_rng(0).permutation(10) ranks the
  # examples (in input order); 8 / 1 / 1 by rank; the input order is kept.
  order = np.random.default_rng(0).permutation(10)
  for label in 'abc':
    in_class = [ex for ex in examples if ex[1] == label]
    assert [ex for ex in splits['validation'] if ex[1] == label] == [in_class[order[8]]]
    assert [ex for ex in splits['test'] if ex[1] == label] == [in_class[order[9]]]
    assert [ex for ex in splits['train'] if ex[1] == label] == [
        in_class[i] for i in sorted(order[:8])]
  assert splits['train'] == [ex for ex in examples if ex in splits['train']]
  # Deterministic, and a class's split does not depend on the other classes.
  assert stratified_split(examples) == splits
  only_a = stratified_split([ex for ex in examples if ex[1] == 'a'])
  assert only_a == {k: [ex for ex in v if ex[1] == 'a'] for k, v in splits.items()}
  # Other sizes: int(n * 0.8) / int(n * 0.1) / rest.
  sizes = class_counts(stratified_split([(str(i), 'x') for i in range(25)]))
  assert sizes == {'train': {'x': 20}, 'validation': {'x': 2}, 'test': {'x': 3}}


def test_missing_validation_is_cut_from_train(tmp_path):
  for text, label in ten_per_class(['neg', 'pos']):
    write(tmp_path / f'data/train/{label}/{text}.txt', text)
  write(tmp_path / 'data/test/pos/t.txt', 'held-out positive')
  write(tmp_path / 'data/test/neg/t.txt', 'held-out negative')
  layout, sources = find_layout(str(tmp_path / 'data'))
  assert layout == 'split_folders' and set(sources) == {'train', 'test'}
  splits = read_labelled_examples(str(tmp_path / 'data'))
  assert class_counts(splits) == {'train': {'neg': 9, 'pos': 9},
                                  'validation': {'neg': 1, 'pos': 1},
                                  'test': {'neg': 1, 'pos': 1}}
  in_name_order = [(f'{label} example {i}', label) for label in ('neg', 'pos') for i in range(10)]
  kept, held = hold_out(in_name_order)
  assert splits['train'] == kept and splits['validation'] == held
  assert class_names(splits) == ['neg', 'pos']


def test_jsonl_layout_with_integer_labels(tmp_path):
  records = [{'text': f'item {i}', 'label': i % 3, 'other': None} for i in range(30)]
  write(tmp_path / 'data/train.jsonl', jsonl_text(records) + '\n\n')
  write(tmp_path / 'data/valid.jsonl', jsonl_text([{'label': '2', 'text': 'valid \u2028 one'}]))
  layout, sources = find_layout(str(tmp_path / 'data'))
  assert layout == 'tabular' and set(sources) == {'train', 'validation'}
  splits = read_labelled_examples(str(tmp_path / 'data'))
  assert splits['validation'] == [('valid \u2028 one', '2')]
  assert class_names(splits) == ['0', '1', '2']
  assert class_counts(splits)['test'] == {'0': 1, '1': 1, '2': 1}  # cut from train
  assert len(splits['train']) == 27


# --- Errors -----------------------------------------------------------------------

def test_non_utf8_file_names_file_and_offset(tmp_path):
  write(tmp_path / 'csv/train.csv', 'text,label\ncafé,x\n'.encode('latin-1'))
  with pytest.raises(ValueError, match=r'train\.csv: not valid UTF-8 at byte offset 14'):
    read_labelled_examples(str(tmp_path / 'csv'))
  write(tmp_path / 'folders/a/1.txt', 'fine')
  write(tmp_path / 'folders/b/2.txt', b'ok \xff')
  with pytest.raises(ValueError, match=r'b/2\.txt: not valid UTF-8 at byte offset 3'):
    read_labelled_examples(str(tmp_path / 'folders'))
  write(tmp_path / 'fortunes/f', 'a\n%\nb\n%\n\xe9t\xe9\n'.encode('latin-1'))
  with pytest.raises(ValueError, match=r'fortunes/f: not valid UTF-8 at byte offset 8'):
    read_labelled_examples(str(tmp_path / 'fortunes'))


def test_empty_text_names_file_and_line(tmp_path):
  write(tmp_path / 'csv/train.csv', 'text,label\nfine,a\n"multi\nline",b\n"  ",a\n')
  with pytest.raises(ValueError, match=r'train\.csv, line 5: empty text'):
    read_labelled_examples(str(tmp_path / 'csv'))
  write(tmp_path / 'jsonl/train.jsonl', jsonl_text([{'text': 'x', 'label': 'a'},
                                                   {'text': '\n', 'label': 'a'}]))
  with pytest.raises(ValueError, match=r'train\.jsonl, line 2: empty text'):
    read_labelled_examples(str(tmp_path / 'jsonl'))
  write(tmp_path / 'folders/a/1.txt', 'fine')
  write(tmp_path / 'folders/a/2.txt', ' \n')
  with pytest.raises(ValueError, match=r'a/2\.txt: empty text'):
    read_labelled_examples(str(tmp_path / 'folders'))
  write(tmp_path / 'label/train.csv', 'text,label\nfine, \n')
  with pytest.raises(ValueError, match=r'train\.csv, line 2: empty label'):
    read_labelled_examples(str(tmp_path / 'label'))


def test_unknown_held_out_label_names_file_line_label_and_train_labels(tmp_path):
  write(tmp_path / 'csv/train.csv', csv_text([(i, f't{i}', 'ab'[i % 2]) for i in range(4)]))
  write(tmp_path / 'csv/test.csv', csv_text([(9, 'ok', 'a'), (10, 'odd', 'c')]))
  with pytest.raises(ValueError, match=r"test\.csv, line 3: test label 'c' is not among the "
                                       r"train split's labels \('a', 'b'\)"):
    read_labelled_examples(str(tmp_path / 'csv'))
  write(tmp_path / 'folders/train/a/1.txt', 'x')
  write(tmp_path / 'folders/validation/z/1.txt', 'y')
  with pytest.raises(ValueError, match=r"validation/z/1\.txt: validation label 'z' .*\('a'\)"):
    read_labelled_examples(str(tmp_path / 'folders'))


def test_malformed_tabular_files(tmp_path):
  write(tmp_path / 'cols/train.csv', 'sentence,label\nx,a\n')
  with pytest.raises(ValueError, match=r'train\.csv: line 1: the header row .* lacks a `text` '
                                       'and a `label` column'):
    read_labelled_examples(str(tmp_path / 'cols'))
  write(tmp_path / 'short/train.csv', 'label,id,text\na,1,x\nb,2\n')
  with pytest.raises(ValueError, match=r'train\.csv, line 3: 2 fields'):
    read_labelled_examples(str(tmp_path / 'short'))
  for name, line, message in (('list', '["x", "a"]', 'expected an object with keys'),
                              ('key', '{"text": "x"}', 'expected an object with keys'),
                              ('json', '{"text": "x", ', 'not valid JSON'),
                              ('float', '{"text": "x", "label": 1.5}', '"label" is a float')):
    write(tmp_path / f'{name}/train.jsonl', '{"text": "fine", "label": "a"}\n' + line + '\n')
    with pytest.raises(ValueError, match=rf'train\.jsonl, line 2: {message}'):
      read_labelled_examples(str(tmp_path / name))
  write(tmp_path / 'both/train.csv', 'text,label\nx,a\n')
  write(tmp_path / 'both/train.jsonl', '{"text": "x", "label": "a"}\n')
  with pytest.raises(ValueError, match='ambiguous train file: train.csv, train.jsonl'):
    read_labelled_examples(str(tmp_path / 'both'))
  write(tmp_path / 'mixed/train.csv', 'text,label\nx,a\n')
  write(tmp_path / 'mixed/test.jsonl', '{"text": "x", "label": "a"}\n')
  with pytest.raises(ValueError, match=r'test\.jsonl: the train file is train\.csv'):
    read_labelled_examples(str(tmp_path / 'mixed'))
  write(tmp_path / 'notrain/test.csv', 'text,label\nx,a\n')
  with pytest.raises(ValueError, match=r'test\.csv found but no train\.csv or train\.jsonl'):
    read_labelled_examples(str(tmp_path / 'notrain'))


def test_no_layout_and_classes_without_examples(tmp_path):
  write(tmp_path / 'none/index.dat', b'\x00')
  write(tmp_path / 'none/sub/file.md', 'not a layout\n')
  with pytest.raises(ValueError, match=r'none: no recognised layout\. Accepted: train\.csv or '
                                       r'train\.jsonl .*class folders .*fortune files'):
    read_labelled_examples(str(tmp_path / 'none'))
  write(tmp_path / 'emptyclass/a/1.txt', 'x')
  os.makedirs(tmp_path / 'emptyclass/b')
  with pytest.raises(ValueError, match=r"emptyclass/b: class 'b' has no examples"):
    read_labelled_examples(str(tmp_path / 'emptyclass'))
  write(tmp_path / 'emptyfortune/full', 'a\n%\nb\n%\n')
  write(tmp_path / 'emptyfortune/hollow', '%\n \n%\n')
  with pytest.raises(ValueError, match=r"hollow: class 'hollow' has no examples"):
    read_labelled_examples(str(tmp_path / 'emptyfortune'))
  write(tmp_path / 'single/many', ''.join(f'{i}\n%\n' for i in range(10)))
  write(tmp_path / 'single/one', 'lonely\n')
  with pytest.raises(ValueError, match=r"one, example 1: class 'one' has 1 example\(s\); "
                                       'the stratified 80/10/10 split needs at least 2'):
    read_labelled_examples(str(tmp_path / 'single'))
  write(tmp_path / 'few/train.csv', 'text,label\n' + 'x,a\ny,a\nz,b\nw,b\n')
  with pytest.raises(ValueError, match='few: too few examples to cut a validation split'):
    read_labelled_examples(str(tmp_path / 'few'))
  write(tmp_path / 'fewtest/train.csv', 'text,label\nx,a\n')
  write(tmp_path / 'fewtest/dev.csv', 'text,label\ny,a\n')
  with pytest.raises(ValueError, match='fewtest: too few examples to cut a test split'):
    read_labelled_examples(str(tmp_path / 'fewtest'))
  write(tmp_path / 'headeronly/train.csv', 'text,label\nx,a\n' * 10)
  write(tmp_path / 'headeronly/test.csv', 'text,label\n')
  with pytest.raises(ValueError, match=r'test\.csv: the test split has no examples'):
    read_labelled_examples(str(tmp_path / 'headeronly'))
  write(tmp_path / 'notrainfolder/test/a/1.txt', 'x')
  with pytest.raises(ValueError, match='split folder.* test found but no train/ folder'):
    read_labelled_examples(str(tmp_path / 'notrainfolder'))
  with pytest.raises(ValueError, match='missing: not a directory'):
    read_labelled_examples(str(tmp_path / 'missing'))


def test_builder_errors_reach_the_caller(tmp_path):
  write(tmp_path / 'bad/train.csv', 'text,label\nx,a\n')
  write(tmp_path / 'bad/test.csv', 'text,label\ny,b\n')
  with pytest.raises(ValueError, match=r"test\.csv, line 2: test label 'b'"):
    build(tmp_path / 'tfds1', tmp_path / 'bad')
  os.makedirs(tmp_path / 'empty')
  with pytest.raises(ValueError, match='manual directory does not exist or holds no files'):
    build(tmp_path / 'tfds2', tmp_path / 'empty')


# --- Debian fortunes and the registry ----------------------------------------------

def test_debian_fortunes_parse():
  directory = config_lib.FORTUNES_DEBIAN_DIR
  assert os.path.isdir(directory), (
      f'{directory} is missing: run `apt-get install fortunes` (Debian/Ubuntu) to test '
      'the fortune layout on real files.')
  layout, _ = find_layout(directory)
  splits = read_labelled_examples(directory)
  names = class_names(splits)
  assert layout == 'fortunes'
  assert len(names) > 40
  assert sum(len(v) for v in splits.values()) > 10_000
  assert not [n for n in names if n.endswith('.dat') or n.endswith('.u8') or n == 'off']
  assert all(text == text.strip() and text for v in splits.values() for text, _ in v)
  assert set(class_counts(splits)['test']) == set(names)  # every class reaches test


def test_registry_entry_prepares_through_datasets(tmp_path):
  spec = registry.DATASETS['labelled_text']
  assert spec.tfds_name == 'labelled_text' and spec.needs_manual_dir and spec.builds_offline
  assert 'apt-get install fortunes' in spec.how_to_get
  assert '--config.dataset.manual_dir=DIR' in spec.how_to_get
  write(tmp_path / 'data/train.jsonl', jsonl_text(
      [{'text': f'{i}', 'label': label} for i in range(10) for label in ('yes', 'no')]))
  os.makedirs(tmp_path / 'tfds')
  config = ml_collections.ConfigDict(dict(
      name='labelled_text', data_dir=str(tmp_path / 'tfds'), download=False,
      train_split='train', manual_dir=str(tmp_path / 'data')))
  builder = datasets.prepare(config)
  assert builder.info.splits['train'].num_examples == 16
  assert datasets.class_names(config) == ['no', 'yes']
