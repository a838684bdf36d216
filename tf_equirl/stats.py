"""Comparisons between arms: difference of means with a bootstrap CI, Welch's t and Holm.

A results table compares arms (network kinds, agents, variants) trained on seeds. Each
comparison is computed, never worded by hand:

* `difference_of_means(a, b)`: the difference `mean(a) - mean(b)`, a percentile bootstrap
  confidence interval of it and a bootstrap p-value (two-sided, from the bootstrap
  distribution shifted to the null). Where both arms ran the same seeds (`seeds_a`,
  `seeds_b`), the seeds are paired: the bootstrap resamples seeds and both arms' values of a
  seed move together, so the noise a seed shares between arms cancels. Welch's t-test (or the
  paired t-test) is computed beside it as a cross-check.
* `holm(p_values)`: Holm's step-down correction of the p-values of the comparisons of one
  table (family-wise error rate).
* `compare(arms, pairs)`: every comparison of a table with Holm applied across them.
* `verdict(difference, alpha)`: the one rule that words a comparison (`RULE`).

Censored values. A per-seed time to a threshold (`tf_equirl.results.steps_to_threshold`) is
`inf` for a seed that never reached it within its run. `difference_of_means(...,
censored_at=budget)` (and `compare`) takes such values: every `inf` becomes `censored_at`
(the run's last step), the earliest time the seed could still have reached the threshold.
This is conservative: a censored seed counts as faster than it truly is, so an arm with more
censored seeds is made to look better, which shrinks a real difference towards 0 and never
invents one where both arms reach the threshold; when both arms are censored on every seed
the difference is exactly 0 (level). `Difference.censored_a` / `censored_b` count the seeds
so replaced; report them beside the difference. NaN stays an error.

Everything here is numpy only and deterministic for a given `seed`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
  "Difference",
  "difference_of_means",
  "holm",
  "compare",
  "verdict",
  "RULE",
  "student_t_two_sided_p",
  "markdown_differences",
  "differences_as_dicts",
]

# The rule that turns a comparison into words, stated once (docs and tables quote it).
RULE = (
  "A beats B when the Holm-corrected p-value of the difference of means (the larger of "
  "the bootstrap's and the t-test's, so that both must agree) is below alpha (0.05) and "
  "the difference is positive; A trails B when it is below alpha and the "
  "difference is negative; otherwise A is level with B (no difference detected at this "
  "number of seeds)."
)


@dataclasses.dataclass(frozen=True)
class Difference:
  """One comparison `a - b` of a table.

  Attributes:
    a, b: the arms' names.
    mean_a, mean_b: their means.
    difference: `mean_a - mean_b`.
    ci_low, ci_high: the bootstrap confidence interval of the difference.
    confidence: its level (e.g. 0.95).
    p_bootstrap: two-sided bootstrap p-value, uncorrected.
    p_t: two-sided p-value of Welch's t-test (paired t-test when paired), uncorrected.
    p_holm: the larger of `p_bootstrap` and `p_t` (both tests must agree: with few seeds the
      bootstrap alone is overconfident), after Holm's correction across the table (no
      correction for a lone comparison).
    paired: whether seeds were paired.
    n_a, n_b: the number of values (seeds) of each arm used.
    censored_a, censored_b: how many of them were `inf` and replaced by `censored_at`
      (times to a threshold never reached; 0 without `censored_at`).
  """

  a: str
  b: str
  mean_a: float
  mean_b: float
  difference: float
  ci_low: float
  ci_high: float
  confidence: float
  p_bootstrap: float
  p_t: float
  p_holm: float
  paired: bool
  n_a: int
  n_b: int
  censored_a: int = 0
  censored_b: int = 0

  def words(self, alpha: float = 0.05) -> str:
    """`"beats"`, `"trails"` or `"level with"` (see `RULE`)."""
    return verdict(self, alpha)


def _values(name: str, values, censored_at: Optional[float] = None) -> np.ndarray:
  array = np.asarray(values, dtype=np.float64)
  if array.ndim != 1:
    raise ValueError(
      f"difference_of_means: {name} must be a 1-D array of per-seed values, "
      f"received shape {array.shape}."
    )
  if array.size < 2:
    raise ValueError(
      f"difference_of_means: {name} needs at least 2 values (seeds), received " f"{array.size}."
    )
  if censored_at is not None:
    finite = array[np.isfinite(array)]
    if finite.size and finite.max() > censored_at:
      raise ValueError(
        f"difference_of_means: censored_at={censored_at!r} must be at least every finite "
        f"value (the run's last step), but {name} has {finite.max()!r}."
      )
    array = np.where(np.isposinf(array), censored_at, array)
  if not np.all(np.isfinite(array)):
    hint = "" if censored_at is not None else " (times never reached: pass censored_at)"
    raise ValueError(
      f"difference_of_means: {name} has non-finite values "
      f"({int(np.sum(~np.isfinite(array)))} of {array.size}){hint}."
    )
  return array


def _pairing(a: np.ndarray, b: np.ndarray, seeds_a, seeds_b) -> Tuple[np.ndarray, np.ndarray, bool]:
  """`(a, b, paired)`: the values on the shared seeds in the same order when both arms name
  their seeds and share at least 2 of them, else the inputs unpaired."""
  if seeds_a is None and seeds_b is None:
    return a, b, False
  if seeds_a is None or seeds_b is None:
    raise ValueError(
      "difference_of_means: give the seeds of both arms (seeds_a and seeds_b) " "or of neither."
    )
  seeds_a, seeds_b = [int(s) for s in seeds_a], [int(s) for s in seeds_b]
  for name, seeds, values in (("a", seeds_a, a), ("b", seeds_b, b)):
    if len(seeds) != values.size:
      raise ValueError(
        f"difference_of_means: {name} has {values.size} values but " f"{len(seeds)} seeds."
      )
    if len(set(seeds)) != len(seeds):
      raise ValueError(f"difference_of_means: seeds_{name} has duplicate seeds.")
  shared = sorted(set(seeds_a) & set(seeds_b))
  if len(shared) < 2:
    return a, b, False
  index_a = {s: i for i, s in enumerate(seeds_a)}
  index_b = {s: i for i, s in enumerate(seeds_b)}
  return (
    np.array([a[index_a[s]] for s in shared]),
    np.array([b[index_b[s]] for s in shared]),
    True,
  )


def _betacf(a: float, b: float, x: float) -> float:
  """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
  tiny, eps = 1e-300, 3e-16
  qab, qap, qam = a + b, a + 1.0, a - 1.0
  c, d = 1.0, 1.0 - qab * x / qap
  d = 1.0 / (d if abs(d) > tiny else tiny)
  h = d
  for m in range(1, 10_000):
    m2 = 2 * m
    aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1.0 + aa * d
    d = 1.0 / (d if abs(d) > tiny else tiny)
    c = 1.0 + aa / c
    c = c if abs(c) > tiny else tiny
    h *= d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1.0 + aa * d
    d = 1.0 / (d if abs(d) > tiny else tiny)
    c = 1.0 + aa / c
    c = c if abs(c) > tiny else tiny
    delta = d * c
    h *= delta
    if abs(delta - 1.0) < eps:
      break
  return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
  """The regularised incomplete beta function `I_x(a, b)`."""
  if x <= 0.0:
    return 0.0
  if x >= 1.0:
    return 1.0
  front = math.exp(
    math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
  )
  if x < (a + 1.0) / (a + b + 2.0):
    return front * _betacf(a, b, x) / a
  return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
  """Two-sided p-value `P(|T| >= |t|)` of Student's t distribution with `df` degrees of
  freedom (`df` may be fractional, as Welch's is)."""
  if not df > 0:
    raise ValueError(f"student_t_two_sided_p: df must be > 0, received {df!r}.")
  if not math.isfinite(t):
    return 0.0
  return float(_incomplete_beta(df / 2.0, 0.5, df / (df + t * t)))


def _t_test(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
  if paired:
    d = a - b
    se = d.std(ddof=1) / math.sqrt(d.size)
    if se == 0.0:
      return 0.0 if d.mean() != 0.0 else 1.0
    return student_t_two_sided_p(float(d.mean() / se), d.size - 1.0)
  va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
  if va + vb == 0.0:
    return 0.0 if a.mean() != b.mean() else 1.0
  t = (a.mean() - b.mean()) / math.sqrt(va + vb)
  df = (va + vb) ** 2 / (
    (va**2 / (a.size - 1) if va > 0 else 0.0) + (vb**2 / (b.size - 1) if vb > 0 else 0.0)
  )
  return student_t_two_sided_p(float(t), float(df))


def difference_of_means(
  a: ArrayLike,
  b: ArrayLike,
  seeds_a: Optional[Sequence[int]] = None,
  seeds_b: Optional[Sequence[int]] = None,
  names: Tuple[str, str] = ("a", "b"),
  confidence: float = 0.95,
  resamples: int = 10_000,
  seed: int = 0,
  censored_at: Optional[float] = None,
) -> Difference:
  """Compares two arms' per-seed values: `mean(a) - mean(b)` with a bootstrap CI.

  Args:
    a: 1-D per-seed values of the first arm (at least 2, finite).
    b: the same for the second arm.
    seeds_a: the seeds the values of `a` belong to. When both `seeds_a` and `seeds_b` are
      given and share at least 2 seeds, the comparison is paired over the shared seeds
      (others are left out); otherwise it is unpaired.
    seeds_b: the seeds the values of `b` belong to.
    names: the arms' names (for tables).
    confidence: level of the interval, in (0, 1).
    resamples: bootstrap resamples (>= 1000).
    seed: seed of the bootstrap's random generator.
    censored_at: for censored values (times to a threshold): every `inf` becomes this
      (finite, at least every finite value: the run's last step), see the module docstring.

  Returns:
    A `Difference` whose `p_holm` is the larger of the two p-values, uncorrected (`compare`
    corrects across a table).

  Raises:
    ValueError: values that are not 1-D, finite and at least 2 per arm, seeds that do not
      match the values, a confidence outside (0, 1) or fewer than 1000 resamples.
  """
  if censored_at is not None and (
    isinstance(censored_at, bool)
    or not isinstance(censored_at, (int, float, np.integer, np.floating))
    or not math.isfinite(censored_at)
  ):
    raise ValueError(
      "difference_of_means: censored_at must be a finite number (the run's last step), "
      f"received {censored_at!r}."
    )
  raw_a, raw_b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
  a = _values(names[0], a, censored_at)
  b = _values(names[1], b, censored_at)
  if not 0.0 < confidence < 1.0:
    raise ValueError(
      f"difference_of_means: confidence must be in (0, 1), received " f"{confidence!r}."
    )
  if int(resamples) < 1000:
    raise ValueError(f"difference_of_means: resamples must be >= 1000, received {resamples!r}.")
  censored_a, censored_b, paired = _pairing(
    np.isposinf(raw_a).astype(np.float64), np.isposinf(raw_b).astype(np.float64), seeds_a, seeds_b
  )
  a, b, paired = _pairing(a, b, seeds_a, seeds_b)
  p_t = _t_test(a, b, paired)
  rng = np.random.default_rng(seed)
  diff = float(a.mean() - b.mean())
  if paired:
    d = a - b
    boot = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
  else:
    boot = a[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1) - b[
      rng.integers(0, b.size, size=(resamples, b.size))
    ].mean(axis=1)
  tail = (1.0 - confidence) / 2.0
  low, high = np.quantile(boot, [tail, 1.0 - tail])
  # Shift the bootstrap distribution to the null (difference 0) and count the resamples at
  # least as far from it as the observed difference.
  extreme = np.sum(np.abs(boot - diff) >= abs(diff) - 1e-12 * max(1.0, abs(diff)))
  p_boot = float((extreme + 1) / (resamples + 1))
  return Difference(
    a=names[0],
    b=names[1],
    mean_a=float(a.mean()),
    mean_b=float(b.mean()),
    difference=diff,
    ci_low=float(low),
    ci_high=float(high),
    confidence=confidence,
    p_bootstrap=p_boot,
    p_t=p_t,
    p_holm=max(p_boot, p_t),
    paired=paired,
    n_a=int(a.size),
    n_b=int(b.size),
    censored_a=int(censored_a.sum()),
    censored_b=int(censored_b.sum()),
  )


def holm(p_values: Sequence[float]) -> np.ndarray:
  """Holm's step-down adjusted p-values (same order as given, each in [0, 1]).

  The i-th smallest of m p-values is multiplied by `m - i` (i from 0), made non-decreasing
  along that order and capped at 1; reject where the adjusted value is below alpha.
  """
  p = np.asarray(p_values, dtype=np.float64)
  if p.ndim != 1:
    raise ValueError(f"holm: expected a 1-D sequence of p-values, received shape {p.shape}.")
  if p.size and (np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1)):
    raise ValueError(f"holm: p-values must lie in [0, 1], received {p.tolist()}.")
  m = p.size
  order = np.argsort(p, kind="stable")
  adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
  out = np.empty(m)
  out[order] = adjusted
  return out


def compare(
  arms: Mapping[str, Union[Sequence[float], np.ndarray]],
  pairs: Sequence[Tuple[str, str]],
  seeds: Optional[Mapping[str, Sequence[int]]] = None,
  confidence: float = 0.95,
  resamples: int = 10_000,
  seed: int = 0,
  censored_at: Optional[float] = None,
) -> List[Difference]:
  """Every comparison `(a, b)` of `pairs` between the per-seed values in `arms`, with Holm's
  correction across them (one family per table).

  `seeds[name]` gives an arm's seeds (pairs sharing seeds are then paired); `censored_at`
  replaces `inf` values (times never reached) as in `difference_of_means`.

  Raises:
    ValueError: a pair naming an arm not in `arms`, or any error of `difference_of_means`.
  """
  diffs = []
  for k, (name_a, name_b) in enumerate(pairs):
    for name in (name_a, name_b):
      if name not in arms:
        raise ValueError(f"compare: unknown arm {name!r}; arms are {sorted(arms)}.")
    diffs.append(
      difference_of_means(
        arms[name_a],
        arms[name_b],
        seeds_a=None if seeds is None else seeds.get(name_a),
        seeds_b=None if seeds is None else seeds.get(name_b),
        names=(name_a, name_b),
        confidence=confidence,
        resamples=resamples,
        seed=seed + k,
        censored_at=censored_at,
      )
    )
  corrected = holm([max(d.p_bootstrap, d.p_t) for d in diffs])
  return [dataclasses.replace(d, p_holm=float(p)) for d, p in zip(diffs, corrected)]


def verdict(difference: Difference, alpha: float = 0.05, lower_is_better: bool = False) -> str:
  """The words for a comparison under `RULE`: "beats", "trails" or "level with".

  `lower_is_better` reads a negative difference as the better one (e.g. steps to reach a
  return threshold)."""
  if not 0.0 < alpha < 1.0:
    raise ValueError(f"verdict: alpha must be in (0, 1), received {alpha!r}.")
  if difference.p_holm < alpha:
    return "beats" if (difference.difference > 0) != lower_is_better else "trails"
  return "level with"


def _number(x: float, digits: int) -> str:
  return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def markdown_differences(
  diffs: Sequence[Difference], digits: int = 3, alpha: float = 0.05, lower_is_better: bool = False
) -> str:
  """A markdown table of comparisons: difference, its CI, corrected p, words
  (`verdict(d, alpha, lower_is_better)`)."""
  if not diffs:
    return ""
  level = int(round(100 * diffs[0].confidence))
  rows = [
    f"| comparison | difference | {level} % CI | p (Holm) | p (t) | seeds | reading |",
    "|---|---|---|---|---|---|---|",
  ]
  for d in diffs:
    seeds = f"{d.n_a} paired" if d.paired else f"{d.n_a} / {d.n_b}"
    rows.append(
      f"| {d.a} - {d.b} | {_number(d.difference, digits)} | "
      f"[{_number(d.ci_low, digits)}, {_number(d.ci_high, digits)}] | "
      f"{d.p_holm:.3g} | {d.p_t:.3g} | {seeds} | {d.a} {verdict(d, alpha, lower_is_better)} {d.b} |"
    )
  return "\n".join(rows) + "\n"


def differences_as_dicts(diffs: Sequence[Difference]) -> List[Dict[str, object]]:
  """The comparisons as JSON-ready dicts (for a results file's data)."""
  return [dict(dataclasses.asdict(d), reading=verdict(d)) for d in diffs]
