"""Tests for research/kneser_ney.py: modified Kneser-Ney (Chen & Goodman 1998).

The hand-computed cases write the counts and the arithmetic out in comments;
a slow dict-based reference implementation, written independently of the
vectorised one, cross-checks random corpora.
"""

import collections
import math
import time

import numpy as np
import pytest

from research.kneser_ney import FALLBACK_DISCOUNTS, KneserNeyLM, evaluate, modified_kn_discounts

A, B, C, D = 0, 1, 2, 3  # vocabulary of 4; D never occurs in the hand corpus
# a b a b a b a b c a c a   (positions 0..11)
HAND = np.array([A, B, A, B, A, B, A, B, C, A, C, A])


# --- discounts ---------------------------------------------------------------


def test_discount_formula_by_hand():
  # n = (2, 1, 1, 1): Y = 2 / (2 + 2*1) = 0.5
  # D1 = 1 - 2*0.5*1/2 = 0.5,  D2 = 2 - 3*0.5*1/1 = 0.5,  D3+ = 3 - 4*0.5*1/1 = 1.0
  assert modified_kn_discounts((2, 1, 1, 1)) == pytest.approx((0.5, 0.5, 1.0), abs=1e-15)
  # n = (100, 30, 10, 5): Y = 100/160 = 0.625
  # D1 = 1 - 2*0.625*30/100 = 0.625, D2 = 2 - 3*0.625*10/30 = 1.375,
  # D3+ = 3 - 4*0.625*5/10 = 1.75
  assert modified_kn_discounts((100, 30, 10, 5)) == pytest.approx((0.625, 1.375, 1.75), abs=1e-15)


@pytest.mark.parametrize('n', [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0),
                               (0, 0, 0, 0), (10, 1, 10, 1)])
def test_discount_fallback(n):
  # Zero count-of-counts, or (10, 1, 10, 1): Y = 10/12, D2 = 2 - 3*(10/12)*10 < 0.
  assert modified_kn_discounts(n) == FALLBACK_DISCOUNTS


# --- hand-computed probabilities ---------------------------------------------

# Unigram level of any order >= 2: continuation counts N1+(. w), the number of
# distinct tokens seen right before w (bigrams: ab x4, ba x3, bc, ca x2, ac):
#   a: {b, c} -> 2    b: {a} -> 1    c: {b, a} -> 2    d: 0          sum S = 5
# count-of-counts (n1..n4) = (1, 2, 0, 0): n3 = 0 -> fallback D = 0.5, 1.0, 1.5
# gamma = (0.5*1 + 1.0*2) / 5 = 0.5, and p0 = 1/4:
P1 = {
    A: (2 - 1.0) / 5 + 0.5 / 4,  # 0.325
    B: (1 - 0.5) / 5 + 0.5 / 4,  # 0.225
    C: (2 - 1.0) / 5 + 0.5 / 4,  # 0.325
    D: 0.5 / 4,  # 0.125
}


def test_hand_unigram_level_distribution():
  assert sum(P1.values()) == pytest.approx(1.0, abs=1e-15)
  for order in (2, 3):
    lm = KneserNeyLM(order, 4).fit(HAND)
    np.testing.assert_allclose(lm.prob_table([]), [P1[w] for w in (A, B, C, D)], rtol=0, atol=1e-12)


def test_hand_order1_raw_counts():
  # order 1: the only level is the top one, so raw counts a=6, b=4, c=2, d=0, S=12.
  # count-of-counts (0, 1, 0, 1) -> fallback D = 0.5, 1.0, 1.5;
  # gamma = (1.0*1 [c] + 1.5*2 [a, b]) / 12 = 4/12
  lm = KneserNeyLM(1, 4).fit(HAND)
  assert lm.discounts == [FALLBACK_DISCOUNTS]
  expected = [(6 - 1.5) / 12 + (4 / 12) / 4,  # a
              (4 - 1.5) / 12 + (4 / 12) / 4,  # b
              (2 - 1.0) / 12 + (4 / 12) / 4,  # c
              (4 / 12) / 4]  # d
  np.testing.assert_allclose(lm.prob_table([]), expected, rtol=0, atol=1e-12)
  np.testing.assert_allclose(lm.prob_table([A, B]), expected, rtol=0, atol=1e-12)


def test_hand_bigram():
  lm = KneserNeyLM(2, 4).fit(HAND)
  # Top level: raw bigram counts ab=4, ba=3, ac=1, bc=1, ca=2.
  # count-of-counts n1..n4 = (2 [ac, bc], 1 [ca], 1 [ba], 1 [ab]) -> all present:
  #   Y = 2/(2+2*1) = 0.5; D1 = 1-2*0.5*1/2 = 0.5; D2 = 2-3*0.5*1/1 = 0.5;
  #   D3+ = 3-4*0.5*1/1 = 1.0
  assert lm.count_of_counts[1] == (2, 1, 1, 1)
  np.testing.assert_allclose(lm.discounts[1], (0.5, 0.5, 1.0), rtol=0, atol=1e-15)
  # history a: ab=4 (D3+), ac=1 (D1); S=5; gamma = (0.5*1 + 1.0*1)/5 = 0.3
  p_a = [0.3 * P1[A],  # a|a: unseen bigram            = 0.0975
         (4 - 1.0) / 5 + 0.3 * P1[B],  # b|a: 0.6 + 0.0675 = 0.6675
         (1 - 0.5) / 5 + 0.3 * P1[C],  # c|a: 0.1 + 0.0975 = 0.1975
         0.3 * P1[D]]  # d|a:                   = 0.0375
  # history b: ba=3 (D3+), bc=1 (D1); S=4; gamma = (0.5 + 1.0)/4 = 0.375
  p_b = [(3 - 1.0) / 4 + 0.375 * P1[A],  # 0.5 + 0.121875 = 0.621875
         0.375 * P1[B],
         (1 - 0.5) / 4 + 0.375 * P1[C],
         0.375 * P1[D]]
  # history c: ca=2 (D2); S=2; gamma = 0.5*1/2 = 0.25  (the final a has no successor)
  p_c = [(2 - 0.5) / 2 + 0.25 * P1[A],  # 0.75 + 0.08125 = 0.83125
         0.25 * P1[B], 0.25 * P1[C], 0.25 * P1[D]]
  assert p_a[B] == pytest.approx(0.6675, abs=1e-15)
  assert p_b[A] == pytest.approx(0.621875, abs=1e-15)
  assert p_c[A] == pytest.approx(0.83125, abs=1e-15)
  np.testing.assert_allclose(lm.prob_table([A]), p_a, rtol=0, atol=1e-12)
  np.testing.assert_allclose(lm.prob_table([B]), p_b, rtol=0, atol=1e-12)
  np.testing.assert_allclose(lm.prob_table([C]), p_c, rtol=0, atol=1e-12)
  # history d never seen: weight 1 on the unigram level
  np.testing.assert_allclose(lm.prob_table([D]), [P1[w] for w in (A, B, C, D)], rtol=0, atol=1e-12)
  # only the last token of a longer context matters for a bigram model
  np.testing.assert_allclose(lm.prob_table([D, C, A]), p_a, rtol=0, atol=1e-12)


def test_hand_trigram():
  lm = KneserNeyLM(3, 4).fit(HAND)
  # Bigram level: continuation counts N1+(. x y) from the trigrams
  #   aba x3, bab x3, abc, bca, cac, aca:
  #   ab: {b} -> 1   ba: {a} -> 1   bc: {a} -> 1   ac: {c} -> 1   ca: {b, a} -> 2
  # (the ab at position 0 has no left neighbour and adds nothing)
  # count-of-counts (4, 1, 0, 0) -> fallback D = 0.5, 1.0, 1.5
  assert lm.count_of_counts[1] == (4, 1, 0, 0)
  assert lm.discounts[1] == FALLBACK_DISCOUNTS
  # history a: ab=1, ac=1; S=2; gamma = 0.5*2/2 = 0.5
  p2_a = {A: 0.5 * P1[A], B: 0.5 / 2 + 0.5 * P1[B], C: 0.5 / 2 + 0.5 * P1[C], D: 0.5 * P1[D]}
  # history b: ba=1, bc=1; S=2; gamma = 0.5
  p2_b = {A: 0.5 / 2 + 0.5 * P1[A], B: 0.5 * P1[B], C: 0.5 / 2 + 0.5 * P1[C], D: 0.5 * P1[D]}
  # history c: ca=2; S=2; gamma = 1.0*1/2 = 0.5
  p2_c = {A: (2 - 1.0) / 2 + 0.5 * P1[A], B: 0.5 * P1[B], C: 0.5 * P1[C], D: 0.5 * P1[D]}
  assert p2_b[A] == pytest.approx(0.4125, abs=1e-15)  # 0.25 + 0.1625
  assert p2_c[A] == pytest.approx(0.6625, abs=1e-15)  # 0.5 + 0.1625
  # Top level: raw trigram counts aba=3, bab=3, abc=1, bca=1, cac=1, aca=1.
  # count-of-counts (4, 0, 2, 0) -> fallback D = 0.5, 1.0, 1.5
  assert lm.count_of_counts[2] == (4, 0, 2, 0)
  # history "a b": aba=3 (D3+=1.5), abc=1 (D1=0.5); S=4; gamma = (1.5+0.5)/4 = 0.5
  p3_ab = [(3 - 1.5) / 4 + 0.5 * p2_b[A],  # 0.375 + 0.20625 = 0.58125
           0.5 * p2_b[B],  # 0.05625
           (1 - 0.5) / 4 + 0.5 * p2_b[C],  # 0.125 + 0.20625 = 0.33125
           0.5 * p2_b[D]]  # 0.03125
  assert p3_ab[A] == pytest.approx(0.58125, abs=1e-15)
  np.testing.assert_allclose(lm.prob_table([A, B]), p3_ab, rtol=0, atol=1e-12)
  # history "b a": bab=3; S=3; gamma = 1.5/3 = 0.5
  p3_ba = [0.5 * p2_a[A], (3 - 1.5) / 3 + 0.5 * p2_a[B], 0.5 * p2_a[C], 0.5 * p2_a[D]]
  assert p3_ba[B] == pytest.approx(0.68125, abs=1e-15)  # 0.5 + 0.18125
  np.testing.assert_allclose(lm.prob_table([B, A]), p3_ba, rtol=0, atol=1e-12)
  # history "b c": bca=1; S=1; gamma = 0.5/1 = 0.5 -> a: 0.5 + 0.5*0.6625 = 0.83125
  p3_bc = [(1 - 0.5) / 1 + 0.5 * p2_c[A], 0.5 * p2_c[B], 0.5 * p2_c[C], 0.5 * p2_c[D]]
  np.testing.assert_allclose(lm.prob_table([B, C]), p3_bc, rtol=0, atol=1e-12)
  # history "b b" never seen as a trigram history: back off to p2(. | b)
  np.testing.assert_allclose(lm.prob_table([B, B]), [p2_b[w] for w in (A, B, C, D)], rtol=0,
                             atol=1e-12)
  # history "d a": d unseen, back off to p2(. | a)
  np.testing.assert_allclose(lm.prob_table([D, A]), [p2_a[w] for w in (A, B, C, D)], rtol=0,
                             atol=1e-12)
  # one-token context: only levels 1..2 are used (start-of-stream convention)
  np.testing.assert_allclose(lm.prob_table([C]), [p2_c[w] for w in (A, B, C, D)], rtol=0,
                             atol=1e-12)
  # Scoring the training stream: position 0 has no history (p1), position 1
  # one token (p2), then full trigram histories.
  lp = lm.log_probs(HAND[:5])  # a b a b a
  expected = [P1[A], p2_a[B], p3_ab[A], p3_ba[B], p3_ab[A]]
  np.testing.assert_allclose(lp, np.log(expected), rtol=0, atol=1e-12)
  # with the preceding text given as history, position 0 uses it
  lp = lm.log_probs(HAND[2:4], history=HAND[:2])  # (a b) | a b
  np.testing.assert_allclose(lp, np.log([p3_ab[A], p3_ba[B]]), rtol=0, atol=1e-12)


# --- an independent slow reference -------------------------------------------


def reference_prob_table(train, order, vocab, context):
  """Modified interpolated KN with dicts and loops, straight from the formulas."""
  train = [int(t) for t in train]
  grams = {k: collections.Counter(tuple(train[i:i + k]) for i in range(len(train) - k + 1))
           for k in range(1, order + 1)}
  level_counts = {order: grams[order]}
  for k in range(1, order):
    cont = collections.Counter()
    for g in grams[k + 1]:  # each distinct (k+1)-gram v g adds one to g
      cont[g[1:]] += 1
    level_counts[k] = cont

  def discounts(counts):
    n = [sum(1 for c in counts.values() if c == r) for r in (1, 2, 3, 4)]
    if 0 in n:
      return (0.0, 0.5, 1.0, 1.5)
    y = n[0] / (n[0] + 2 * n[1])
    d = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
    if not all(0 < d[r - 1] <= r for r in (1, 2, 3)):
      return (0.0, 0.5, 1.0, 1.5)
    return (0.0, *d)

  disc = {k: discounts(level_counts[k]) for k in level_counts}
  context = tuple(int(t) for t in context)[max(0, len(context) - (order - 1)):] if order > 1 else ()

  def prob(w, hist, k):
    if k == 0:
      return 1.0 / vocab
    lower = prob(w, hist[1:], k - 1)
    followers = {g[-1]: c for g, c in level_counts[k].items() if g[:-1] == hist and c > 0}
    total = sum(followers.values())
    if total == 0:
      return lower
    d = disc[k]
    gamma = sum(d[min(c, 3)] for c in followers.values()) / total
    c = followers.get(w, 0)
    return (c - d[min(c, 3)]) / total + gamma * lower

  top = len(context) + 1
  return np.array([prob(w, context, top) for w in range(vocab)])


@pytest.mark.parametrize('order', [1, 2, 3, 4])
def test_matches_reference_on_random_corpus(order):
  rng = np.random.default_rng(order)
  vocab = 5
  # skewed so that count-of-counts are non-zero at some levels (formula path)
  # and zero at others (fallback path); token 4 never occurs
  train = rng.choice(4, size=400, p=[0.5, 0.3, 0.15, 0.05])
  lm = KneserNeyLM(order, vocab).fit(train)
  contexts = [[], [4], [0, 4], [4, 4, 4]]
  contexts += [list(train[i:i + order - 1]) for i in range(0, 300, 23)]
  contexts += [list(rng.integers(0, vocab, size=order - 1)) for _ in range(10)]
  for ctx in contexts:
    np.testing.assert_allclose(lm.prob_table(ctx), reference_prob_table(train, order, vocab, ctx),
                               rtol=0, atol=1e-12, err_msg=f'context {ctx}')


# --- normalisation, positivity, consistency ----------------------------------


@pytest.mark.parametrize('order', [1, 2, 3, 4, 5])
def test_prob_tables_normalised_and_positive(order):
  rng = np.random.default_rng(100 + order)
  vocab = 7
  train = rng.integers(0, vocab - 1, size=2000)  # token 6 is never seen
  lm = KneserNeyLM(order, vocab).fit(train)
  contexts = [[], [6], [6] * 6, list(train[:1]), list(train[-2:])]
  contexts += [list(train[i:i + order - 1]) for i in rng.integers(0, 1990, size=40)]  # seen
  contexts += [list(rng.integers(0, vocab, size=order - 1)) for _ in range(40)]  # often unseen
  for ctx in contexts:
    p = lm.prob_table(ctx)
    assert p.shape == (vocab,) and p.dtype == np.float64
    assert abs(p.sum() - 1.0) < 1e-9, (ctx, p.sum())
    assert np.all(p > 0), (ctx, p)
  assert all(0 < d <= r for ds in lm.discounts for r, d in enumerate(ds, start=1))


@pytest.mark.parametrize('order', [1, 2, 3, 5])
def test_log_probs_match_prob_table(order):
  rng = np.random.default_rng(order)
  vocab = 7
  train = rng.integers(0, vocab - 1, size=2000)
  test = rng.integers(0, vocab, size=200)  # includes the unseen token 6
  lm = KneserNeyLM(order, vocab).fit(train)
  lp = lm.log_probs(test)
  assert lp.shape == test.shape and lp.dtype == np.float64
  for t in range(len(test)):
    ctx = test[max(0, t - order + 1):t]
    assert lp[t] == pytest.approx(np.log(lm.prob_table(ctx)[test[t]]), abs=1e-12), t
  # history is conditioned on, not scored
  hist = rng.integers(0, vocab, size=10)
  joint = lm.log_probs(np.concatenate([hist, test]))
  np.testing.assert_allclose(lm.log_probs(test, history=hist), joint[len(hist):], rtol=0,
                             atol=1e-12)


def test_stream_shorter_than_order():
  lm = KneserNeyLM(5, 4).fit(np.array([1, 2]))
  for ctx in ([], [1], [1, 2, 1, 2, 1], [3, 3]):
    p = lm.prob_table(ctx)
    assert abs(p.sum() - 1) < 1e-12 and np.all(p > 0)
  assert np.all(np.isfinite(lm.log_probs(np.array([0, 1, 2, 3, 3, 2]))))


def test_evaluate_consistent_with_log_probs():
  rng = np.random.default_rng(0)
  lm = KneserNeyLM(3, 10).fit(rng.integers(0, 10, size=3000))
  test = rng.integers(0, 10, size=500)
  r = evaluate(lm, test)
  assert set(r) == {'nll_nats_per_token', 'perplexity', 'bits_per_token'}
  nll = -np.mean(lm.log_probs(test))
  assert r['nll_nats_per_token'] == pytest.approx(nll, rel=1e-12)
  assert r['perplexity'] == pytest.approx(math.exp(nll), rel=1e-12)
  assert r['bits_per_token'] == pytest.approx(nll / math.log(2), rel=1e-12)


# --- does it model anything --------------------------------------------------


def test_higher_order_fits_structured_text_better():
  rng = np.random.default_rng(0)
  vocab = 20
  pattern = rng.integers(0, vocab, size=37)
  text = np.tile(pattern, 200)
  noise = rng.random(text.size) < 0.1
  text[noise] = rng.integers(0, vocab, size=noise.sum())
  ppl = [evaluate(KneserNeyLM(n, vocab).fit(text), text)['perplexity'] for n in (1, 2, 3)]
  print('train perplexity, orders 1..3:', ppl)
  assert ppl[0] > ppl[1] > ppl[2]
  assert ppl[2] < 0.5 * ppl[0]


def test_unigram_on_uniform_tokens_has_perplexity_near_vocab():
  rng = np.random.default_rng(0)
  vocab = 50
  lm = KneserNeyLM(1, vocab).fit(rng.integers(0, vocab, size=200_000))
  ppl = evaluate(lm, rng.integers(0, vocab, size=50_000))['perplexity']
  assert ppl == pytest.approx(vocab, rel=0.01)


def test_speed_order5_one_million_tokens():
  rng = np.random.default_rng(0)
  train = rng.integers(0, 100, size=1_000_000)
  test = rng.integers(0, 100, size=100_000)
  start = time.perf_counter()
  lm = KneserNeyLM(5, 100).fit(train)
  fitted = time.perf_counter()
  r = evaluate(lm, test)
  done = time.perf_counter()
  print(f'order 5, 1M tokens, vocab 100: fit {fitted - start:.2f}s, '
        f'evaluate 100k tokens {done - fitted:.2f}s, perplexity {r["perplexity"]:.1f}')
  assert np.isfinite(r['perplexity'])
  assert done - start < 120  # the requirement is < 60 s; loose for a busy CI box


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize('order', [0, -1, 2.0, True])
def test_bad_order(order):
  with pytest.raises(ValueError, match='order'):
    KneserNeyLM(order, 4)


def test_bad_vocab_size():
  with pytest.raises(ValueError, match='vocab_size'):
    KneserNeyLM(2, 0)


def test_empty_training_stream():
  with pytest.raises(ValueError, match='empty'):
    KneserNeyLM(2, 4).fit(np.array([], dtype=np.int64))
  with pytest.raises(ValueError, match='empty'):
    KneserNeyLM(2, 4).fit([])


@pytest.mark.parametrize('bad', [[0, 1, 4], [0, -1, 2], [[0, 1], [2, 3]], [0.0, 1.0]])
def test_tokens_out_of_range_or_malformed(bad):
  with pytest.raises(ValueError):
    KneserNeyLM(2, 4).fit(np.array(bad))
  lm = KneserNeyLM(2, 4).fit(HAND)
  with pytest.raises(ValueError):
    lm.log_probs(np.array(bad))
  with pytest.raises(ValueError):
    lm.prob_table(np.array(bad))


def test_evaluate_empty_stream():
  with pytest.raises(ValueError, match='empty'):
    evaluate(KneserNeyLM(2, 4).fit(HAND), np.array([], dtype=np.int64))


def test_unfitted():
  with pytest.raises(RuntimeError, match='fit'):
    KneserNeyLM(2, 4).log_probs(np.array([0, 1]))
