"""The comparisons table of a study's report: arms against a reference, paired over seeds.

Every study that compares arms in a table (networks against the MLP, Dyna agents against the
model-free baseline, relaxed actors against the exact G-CNN and the MLP) adds one table
computed by `tf_equirl.stats.compare` (paired over the seeds both arms ran, Holm's correction
across the table) and worded by `tf_equirl.stats.verdict`, with `tf_equirl.stats.RULE` stated
once under it.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import results, stats

__all__ = [
  "PENDING",
  "at_step",
  "compared",
  "compared_in_family",
  "comparisons_text",
  "comparisons_section",
  "checkpoint_label",
  "against_reference",
  "seeds_of",
]

PENDING = "_Declared; the arms have not been trained yet: the results follow when the study runs._"
"""The line under the declaration of a study that has not run (`declare` of
`tf_equirl.experiments.dyna_controlled` and `continuous_study`); the results index reads it
(`tf_equirl.experiments.registry.status`)."""


def at_step(curves: np.ndarray, env_steps: np.ndarray, step: int) -> np.ndarray:
  """Per-seed values of `curves` ([seeds, iterations]) at the first iteration reaching
  `step` (as `tf_equirl.results.summarize` reads a checkpoint)."""
  return np.asarray(curves, dtype=np.float64)[:, results.value_at(np.asarray(env_steps), step)]


def compared(
  values: Mapping[str, np.ndarray],
  pairs: Sequence[Tuple[str, str]],
  seeds: Mapping[str, Sequence[int]],
) -> Tuple[List[stats.Difference], List[str]]:
  """`(differences, left_out)`: `tf_equirl.stats.compare` over the pairs whose two arms each
  have at least 2 per-seed values, all finite (one family for Holm's correction), and the
  `"a - b"` names of the pairs left out for want of them.

  Raises:
    ValueError: a pair names an arm that is not in `values` (a mistake of the caller, not
      missing data).
  """
  usable: List[Tuple[str, str]] = []
  left_out: List[str] = []
  for a, b in pairs:
    for name in (a, b):
      if name not in values:
        raise ValueError(
          f"comparisons: the pair ({a!r}, {b!r}) names {name!r}, which has no values; "
          f"expected one of {sorted(values)}."
        )
    if all(
      np.asarray(values[name]).size >= 2 and np.all(np.isfinite(values[name])) for name in (a, b)
    ):
      usable.append((a, b))
    else:
      left_out.append(f"{a} - {b}")
  if not usable:
    return [], left_out
  diffs = stats.compare(
    {k: np.asarray(v, dtype=np.float64) for k, v in values.items()},
    usable,
    seeds={k: list(s) for k, s in seeds.items()},
  )
  return diffs, left_out


def compared_in_family(
  values: Mapping[str, np.ndarray],
  pairs: Sequence[Tuple[str, str]],
  seeds: Mapping[str, Sequence[int]],
) -> Tuple[List[stats.Difference], List[str], List[str]]:
  """`(differences, left_out, pending)`: `compared` for a declared family of which only some
  pairs can be made yet (an interim report: the other arms are still training).

  A pair is pending when an arm of it has no entry in `values`. The pairs that can be made
  are made as `compared` would make them over the whole family (each with the bootstrap seed
  of its place among the pairs that are not left out), and Holm's correction runs over the
  whole family with every pending pair at p = 1. Holm's adjusted p-values can only go down
  when such a pair's real p-value replaces 1, so a comparison significant here stays so once
  the family is complete, on the same per-seed values.

  Returns:
    The differences made (in the order of `pairs`), the `"a - b"` names left out for want
    of 2 finite per-seed values, and those of the pending pairs.
  """
  made: List[Tuple[int, Tuple[str, str]]] = []
  left_out: List[str] = []
  pending: List[str] = []
  k = 0
  for a, b in pairs:
    if a not in values or b not in values:
      pending.append(f"{a} - {b}")
      k += 1
    elif all(
      np.asarray(values[name]).size >= 2 and np.all(np.isfinite(values[name])) for name in (a, b)
    ):
      made.append((k, (a, b)))
      k += 1
    else:
      left_out.append(f"{a} - {b}")
  diffs = [
    stats.difference_of_means(
      np.asarray(values[a], dtype=np.float64),
      np.asarray(values[b], dtype=np.float64),
      seeds_a=list(seeds[a]) if a in seeds else None,
      seeds_b=list(seeds[b]) if b in seeds else None,
      names=(a, b),
      seed=index,
    )
    for index, (a, b) in made
  ]
  raw = [max(d.p_bootstrap, d.p_t) for d in diffs]
  corrected = stats.holm(raw + [1.0] * len(pending))[: len(diffs)]
  diffs = [dataclasses.replace(d, p_holm=float(p)) for d, p in zip(diffs, corrected)]
  return diffs, left_out, pending


def comparisons_text(
  diffs: Sequence[stats.Difference],
  left_out: Sequence[str] = (),
  heading: str = "## Comparisons",
  what: str = "",
) -> str:
  """The markdown section of `compared`'s output: `heading`, a sentence on the method, the
  table and the rule that words it (`""` when there is no comparison)."""
  if not diffs:
    return ""
  lines = [
    f"{heading}\n",
    f"Difference of means{' of the ' + what if what else ''} (`tf_equirl.stats."
    "compare`): paired over the seeds both arms ran, a percentile bootstrap 95 % "
    "interval, bootstrap p-values with Holm's correction across this table, Welch's or "
    "the paired t-test's p beside them.\n",
    stats.markdown_differences(diffs),
  ]
  if left_out:
    lines.append(f"Left out (fewer than 2 finite per-seed values): {', '.join(left_out)}.\n")
  lines.append(f"Reading: {stats.RULE}\n")
  return "\n".join(lines)


def comparisons_section(
  values: Mapping[str, np.ndarray],
  pairs: Sequence[Tuple[str, str]],
  seeds: Mapping[str, Sequence[int]],
  heading: str = "## Comparisons",
  what: str = "",
) -> str:
  """A markdown section: `heading`, a sentence on the method, the table of `pairs` (each
  `(a, b)` read as `a - b`) and the rule that words it.

  Args:
    values: arm name -> per-seed values (1-D, in the order of `seeds[name]`).
    pairs: the comparisons of the table, one family for Holm's correction.
    seeds: arm name -> its seeds (arms sharing at least 2 seeds are paired on them).
    heading: the section's heading line.
    what: what the values are, e.g. "mean episodic return at each checkpoint".

  Returns:
    The section's text, or `""` when no pair can be compared (an arm with fewer than 2
    finite per-seed values is left out, and the text says so).

  Raises:
    ValueError: a pair names an arm that is not in `values`.
  """
  diffs, left_out = compared(values, pairs, seeds)
  return comparisons_text(diffs, left_out, heading, what)


def checkpoint_label(name: str, step: int) -> str:
  """`"gcnn (10,000 steps)"`: an arm at a checkpoint, as the comparisons table names it."""
  return f"{name} ({step:,} steps)"


def against_reference(
  runs: Mapping[str, tuple],
  reference: str,
  others: Sequence[str],
  checkpoints: Sequence[int],
  seeds: Mapping[str, Sequence[int]],
) -> Tuple[Dict[str, np.ndarray], List[Tuple[str, str]], Dict[str, Sequence[int]]]:
  """`(values, pairs, seeds)` for `comparisons_section`: every arm of `others` against
  `reference` at every checkpoint; `runs[name] = (env_steps, curves, ...)`."""
  values: Dict[str, np.ndarray] = {}
  arm_seeds: Dict[str, Sequence[int]] = {}
  pairs: List[Tuple[str, str]] = []
  for step in checkpoints:
    ref = checkpoint_label(reference, step)
    values[ref] = at_step(runs[reference][1], runs[reference][0], step)
    arm_seeds[ref] = seeds[reference]
    for name in others:
      label = checkpoint_label(name, step)
      values[label] = at_step(runs[name][1], runs[name][0], step)
      arm_seeds[label] = seeds[name]
      pairs.append((label, ref))
  return values, pairs, arm_seeds


def seeds_of(
  runs: Mapping[str, tuple], seeds: Optional[Sequence[int]] = None
) -> Dict[str, Sequence[int]]:
  """Each arm's seeds: `seeds` (the study's 0..N-1) cut to the arm's number of curves."""
  out: Dict[str, Sequence[int]] = {}
  for name, run in runs.items():
    n = np.asarray(run[1]).shape[0]
    out[name] = list(seeds)[:n] if seeds is not None else list(range(n))
  return out
