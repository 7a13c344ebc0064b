"""Captioning metrics from the COCO evaluation code, against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from research import caption_metrics, errors
from research.data import captions


def test_tokenisation_is_lower_case_words_without_punctuation():
  assert captions.tokenize("A US 25 cent piece ($.25) called a 'quarter'.") == [
      'a', 'us', '25', 'cent', 'piece', '25', 'called', 'a', 'quarter']
  assert captions.tokenize("The dog's ball, isn't it?") == ['the', "dog's", 'ball', "isn't", 'it']


def test_bleu_by_hand():
  # Candidate "a red box" against "a box that is red": every unigram matches
  # (precision 1), no bigram does; brevity penalty exp(1 - 5/3).
  scores = caption_metrics.score({'x': ['A box that is red.']}, {'x': 'A red box.'},
                                 names=('bleu_1', 'bleu_2'))
  assert scores['bleu_1'] == pytest.approx(math.exp(1 - 5 / 3), rel=1e-6)
  assert scores['bleu_2'] < 1e-4  # no matching bigram (the library smooths by 1e-9)


def test_cider_d_of_exact_captions_with_disjoint_words_is_ten():
  # CIDEr-D (x 10): every n-gram occurs in one image's references only, so its
  # idf is log(2); the candidate equals its reference, so the tf-idf vectors'
  # cosine is 1 for n = 1..4 and the length penalty exp(0) = 1: 10 x mean(1).
  references = {'a': ['one red box on a table'], 'b': ['two dogs play in the snow']}
  scores = caption_metrics.score(references, {'a': 'One red box on a table.',
                                              'b': 'Two dogs play in the snow.'},
                                 names=('cider', 'bleu_4', 'rouge_l'))
  assert scores['cider'] == pytest.approx(10.0, rel=1e-6)
  assert scores['bleu_4'] == pytest.approx(1.0, rel=1e-6)
  assert scores['rouge_l'] == pytest.approx(1.0, rel=1e-6)
  assert scores['sacrebleu_bleu_4'] == pytest.approx(1.0, rel=1e-6)


def test_sacrebleu_agrees_with_the_coco_bleu_4_on_a_corpus():
  references = {'a': ['a man rides a horse on the beach', 'a person riding a horse'],
                'b': ['a cat sleeps on a red sofa'], 'c': ['two children play football outside']}
  candidates = {'a': 'a man riding a horse on the beach', 'b': 'a cat sleeps on the sofa',
                'c': 'two children play football in a park'}
  scores = caption_metrics.score(references, candidates, names=('bleu_4',))
  assert 0.1 < scores['bleu_4'] < 0.9  # some 4-grams match, not all
  assert scores['bleu_4'] == pytest.approx(scores['sacrebleu_bleu_4'], abs=1e-3)


def test_meteor_runs_on_java():
  scores = caption_metrics.score({'x': ['a red box'], 'y': ['two dogs playing']},
                                 {'x': 'a red box', 'y': 'two cats playing'}, names=('meteor',))
  assert 0.3 < scores['meteor'] < 1.0


def test_unknown_metric_is_a_config_error():
  with pytest.raises(errors.ConfigError, match='Unknown caption metrics'):
    caption_metrics.check_available(['spice'])


def test_meteor_without_java_and_bad_decoding_settings_are_config_errors(monkeypatch):
  from research.tasks import captioning
  from testlib import load_config
  monkeypatch.setattr(caption_metrics.shutil, 'which', lambda name: None)
  with pytest.raises(errors.ConfigError, match='default-jre-headless'):
    caption_metrics.check_available(['bleu_4', 'meteor'])
  caption_metrics.check_available(['bleu_4', 'cider'])  # no Java needed
  config = load_config('tuxpaint_captioning', 'runlocal')
  config.caption_metrics = ('bleu_4',)
  config.decode.beam_size = 0
  with pytest.raises(errors.ConfigError, match='decode.beam_size=0'):
    captioning.check_config(config)
