"""Comparisons between arms: bootstrap CI of a difference of means, Welch's t, Holm."""

import math

import numpy as np
import pytest

from tf_equirl import results, stats


@pytest.mark.parametrize(
  "t,df,expected",
  [
    (2.0, 10.0, 0.073388),  # Student t table / scipy.stats.t.sf(2, 10) * 2
    (2.228139, 10.0, 0.05),  # the 97.5 % quantile at 10 degrees of freedom
    (1.959964, 1e7, 0.05),  # the normal limit
    (0.0, 5.0, 1.0),
    (12.706205, 1.0, 0.05),  # Cauchy
  ],
)
def test_student_t_p_values(t, df, expected):
  assert stats.student_t_two_sided_p(t, df) == pytest.approx(expected, abs=2e-5)
  assert stats.student_t_two_sided_p(-t, df) == pytest.approx(expected, abs=2e-5)


def _simpson_p(t, df, n=20_000):
  """Two-sided p by integrating Student's density over [0, |t|] (Simpson's rule)."""
  x = np.linspace(0.0, abs(t), n + 1)
  density = (
    math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2))
    / math.sqrt(df * math.pi)
    * (1 + x * x / df) ** (-(df + 1) / 2)
  )
  weights = np.ones(n + 1)
  weights[1:-1:2], weights[2:-1:2] = 4, 2
  return 1.0 - 2.0 * (abs(t) / n / 3) * float(weights @ density)


@pytest.mark.parametrize("t,df", [(3.5, 7.3), (1.1, 2.5), (0.4, 31.7), (5.0, 60.2)])
def test_student_t_p_values_for_fractional_degrees_of_freedom(t, df):
  assert stats.student_t_two_sided_p(t, df) == pytest.approx(_simpson_p(t, df), abs=1e-7)


def test_holm_matches_the_step_down_procedure():
  p = [0.01, 0.04, 0.03, 0.005]
  # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
  np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])
  np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
  assert stats.holm([]).size == 0
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    stats.holm([0.1, 1.5])


def test_bootstrap_interval_covers_the_true_difference_at_its_level():
  """Over 200 simulated tables (32 seeds per arm, true difference 0.3) the 90 % interval
  covers 0.3 about 90 % of the time."""
  rng = np.random.default_rng(7)
  hits = 0
  for k in range(200):
    a, b = rng.normal(1.3, 1.0, 32), rng.normal(1.0, 1.0, 32)
    d = stats.difference_of_means(a, b, confidence=0.9, resamples=2000, seed=k)
    hits += d.ci_low <= 0.3 <= d.ci_high
  assert 0.82 <= hits / 200 <= 0.96


def test_false_positive_rate_of_the_bootstrap_p_value_is_near_alpha():
  rng = np.random.default_rng(3)
  rejections = sum(
    stats.difference_of_means(
      rng.normal(size=24), rng.normal(size=24), resamples=2000, seed=k
    ).p_bootstrap
    < 0.05
    for k in range(200)
  )
  assert rejections / 200 <= 0.1


def test_pairing_over_shared_seeds_removes_shared_noise():
  """Both arms share a large per-seed effect: paired, the 0.2 lead is found; unpaired, the
  interval is wide and straddles 0."""
  rng = np.random.default_rng(1)
  seed_effect = rng.normal(0.0, 5.0, 40)
  a = seed_effect + 0.2 + rng.normal(0.0, 0.05, 40)
  b = seed_effect + rng.normal(0.0, 0.05, 40)
  seeds = list(range(100, 140))
  paired = stats.difference_of_means(a, b, seeds_a=seeds, seeds_b=seeds)
  unpaired = stats.difference_of_means(a, b)
  assert paired.paired and not unpaired.paired
  assert paired.ci_low > 0.1 and paired.ci_high < 0.3 and paired.p_t < 1e-6
  assert unpaired.ci_low < 0 < unpaired.ci_high and unpaired.p_t > 0.5
  # Order of seeds does not matter, only which seed a value belongs to.
  shuffled = stats.difference_of_means(a[::-1], b, seeds_a=seeds[::-1], seeds_b=seeds)
  assert shuffled.difference == pytest.approx(paired.difference)
  assert (shuffled.ci_low, shuffled.ci_high) == pytest.approx((paired.ci_low, paired.ci_high))


def test_pairing_uses_only_shared_seeds_and_falls_back_to_unpaired():
  a, b = np.arange(6.0), np.arange(6.0) + 1.0
  d = stats.difference_of_means(a, b, seeds_a=range(6), seeds_b=range(3, 9))
  assert d.paired and d.n_a == d.n_b == 3
  assert d.difference == pytest.approx(np.mean(a[3:]) - np.mean(b[:3]))
  d = stats.difference_of_means(a, b, seeds_a=range(6), seeds_b=range(10, 16))
  assert not d.paired and d.n_a == 6


def test_welch_p_value_matches_a_hand_computation():
  a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
  b = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
  va, vb = a.var(ddof=1) / 5, b.var(ddof=1) / 6
  t = (a.mean() - b.mean()) / math.sqrt(va + vb)
  df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 5)
  d = stats.difference_of_means(a, b)
  assert d.p_t == pytest.approx(stats.student_t_two_sided_p(t, df))
  assert 0.01 < d.p_t < 0.1  # t = -2.49, df = 6.8


def test_compare_corrects_across_the_table_and_words_the_result():
  rng = np.random.default_rng(0)
  seeds = {name: list(range(64)) for name in ("gcnn", "mlp", "same")}
  base = rng.normal(0.0, 1.0, 64)
  arms = {
    "mlp": base + rng.normal(0, 0.1, 64),
    "gcnn": base + 1.0 + rng.normal(0, 0.1, 64),
    "same": base + rng.normal(0, 0.1, 64),
  }
  diffs = results.compare(
    arms, [("gcnn", "mlp"), ("same", "mlp"), ("mlp", "gcnn")], seeds=seeds, resamples=2000
  )
  raw = [max(d.p_bootstrap, d.p_t) for d in diffs]
  np.testing.assert_allclose([d.p_holm for d in diffs], stats.holm(raw))
  assert [d.words() for d in diffs] == ["beats", "level with", "trails"]
  table = results.markdown_differences(diffs)
  assert "| gcnn - mlp |" in table and "gcnn beats mlp" in table and "64 paired" in table
  assert "beats" in results.RULE and "Holm" in results.RULE


def test_same_seed_same_numbers():
  a, b = np.linspace(0, 1, 16), np.linspace(0.2, 1.1, 16)
  assert stats.difference_of_means(a, b, seed=5) == stats.difference_of_means(a, b, seed=5)


@pytest.mark.parametrize(
  "kwargs,match",
  [
    (dict(a=[1.0], b=[1.0, 2.0]), "at least 2"),
    (dict(a=[[1.0, 2.0]], b=[1.0, 2.0]), "1-D"),
    (dict(a=[1.0, np.nan], b=[1.0, 2.0]), "non-finite"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], confidence=1.5), "confidence"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], resamples=10), "resamples"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], seeds_a=[0, 1]), "both arms"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], seeds_a=[0], seeds_b=[0, 1]), "2 values but 1 seeds"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], seeds_a=[0, 0], seeds_b=[0, 1]), "duplicate"),
  ],
)
def test_bad_input_is_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    stats.difference_of_means(**kwargs)


def test_compare_names_an_unknown_arm():
  with pytest.raises(ValueError, match="unknown arm 'cnn'"):
    stats.compare({"mlp": [1.0, 2.0]}, [("cnn", "mlp")])


def test_two_seeds_are_never_enough_for_a_verdict():
  """With 2 paired seeds the bootstrap sees only 3 distinct means and alone would call a small
  difference significant; the t-test's larger p-value keeps it "level with"."""
  d = stats.difference_of_means([1.0, 1.1], [0.5, 0.7], seeds_a=[0, 1], seeds_b=[0, 1])
  assert d.p_holm == max(d.p_bootstrap, d.p_t) and d.p_t > 0.05
  assert d.words() == "level with"


# -------------------------------------------------------------------- time to a threshold
def test_steps_to_threshold_on_synthetic_curves():
  steps = np.arange(1, 11) * 100  # 100, ..., 1000
  ramp = np.linspace(0.0, 9.0, 10)  # reaches 4.0 at index 4 (step 500)
  late = np.where(np.arange(10) >= 8, 10.0, 0.0)  # reaches at index 8 (step 900)
  never = np.full(10, 3.0)
  curves = np.stack([ramp, late, never])
  np.testing.assert_array_equal(
    results.steps_to_threshold(steps, curves, 4.0), [500.0, 900.0, np.inf]
  )
  assert float(results.steps_to_threshold(steps, ramp, 4.0)) == 500.0
  assert results.steps_to_threshold(steps, ramp, 4.0).shape == ()
  # Trailing mean of 3: ramp's smoothed value at index i is i - 1 (from index 2), so above
  # 3.5 first at index 5; late's is 10/3 at index 8, 20/3 at index 9.
  np.testing.assert_array_equal(
    results.steps_to_threshold(steps, curves, 3.5, window=3), [600.0, 1000.0, np.inf]
  )
  # A spike does not count once smoothed; NaN (no finished episode) never reaches.
  spike = np.array([0, 0, 9, 0, 0, np.nan, 5, 5, 5, 5], dtype=float)
  assert float(results.steps_to_threshold(steps, spike, 4.0)) == 300.0
  assert float(results.steps_to_threshold(steps, spike, 4.0, window=3)) == 900.0


@pytest.mark.parametrize(
  "args,match",
  [
    (([1, 2, 3], [[0, 1]], 1.0), "T=3"),
    (([1, 1, 3], [0, 1, 2], 1.0), "strictly increasing"),
    (([1, 2, 3], [0, 1, 2], float("nan")), "threshold must be finite"),
    (([1, 2, 3], [0, 1, 2], 1.0, 0), "window"),
  ],
)
def test_steps_to_threshold_bad_input_is_named(args, match):
  with pytest.raises(ValueError, match=match):
    results.steps_to_threshold(*args)


def test_difference_of_censored_times_replaces_inf_by_the_budget():
  fast = np.array([200.0, 300.0, 250.0, 220.0, 280.0, 240.0])
  slow = np.array([700.0, np.inf, 800.0, np.inf, 650.0, 900.0])
  d = stats.difference_of_means(fast, slow, censored_at=1000.0, resamples=2000)
  # The censored seeds count as 1000: mean(slow) = (700 + 1000 + 800 + 1000 + 650 + 900) / 6.
  assert d.mean_b == pytest.approx(5050.0 / 6)
  assert d.difference == pytest.approx(fast.mean() - 5050.0 / 6)
  assert (d.censored_a, d.censored_b) == (0, 2)
  assert d.words() == "trails"  # fewer steps to the threshold: a difference < 0
  # Paired over shared seeds: the censored count is that of the seeds used.
  paired = stats.difference_of_means(
    fast, slow, seeds_a=range(6), seeds_b=range(3, 9), censored_at=1000.0, resamples=2000
  )  # shared seeds 3, 4, 5: slow's 700, inf, 800
  assert paired.paired and paired.n_a == 3 and paired.censored_b == 1
  # Every seed of both arms censored: exactly level.
  never = np.full(4, np.inf)
  d = stats.difference_of_means(never, never, censored_at=1000.0, resamples=2000)
  assert d.difference == 0.0 and d.words() == "level with"
  # compare passes it on, and without it inf is refused with a hint.
  table = stats.compare({"fast": fast, "slow": slow}, [("fast", "slow")], censored_at=1000.0)
  assert table[0].censored_b == 2
  with pytest.raises(ValueError, match="pass censored_at"):
    stats.difference_of_means(fast, slow)
  with pytest.raises(ValueError, match="must be at least every finite value"):
    stats.difference_of_means(fast, slow, censored_at=800.0)
  with pytest.raises(ValueError, match="censored_at must be a finite number"):
    stats.difference_of_means(fast, slow, censored_at=float("inf"))
