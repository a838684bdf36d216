"""The one results writer: statistics across seeds, per-seed CSVs, markdown tables, plots.

Comparisons between arms (difference of means, bootstrap CI, Welch's t, Holm's correction
and the rule that words them) live in `tf_equirl.stats` and are re-exported here.

Statistics follow the thesis (Tables 4.2/4.4, Fig. 4.3): the mean across seeds with
+- 2 standard errors, and the worst decile: each seed's cumulative mean return up to a step,
averaged over the 10 % of seeds whose cumulative mean is lowest there.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Sequence

import numpy as np

from tf_equirl.stats import (
  RULE,
  Difference,
  compare,
  difference_of_means,
  holm,
  markdown_differences,
  verdict,
)

__all__ = [
  "Difference",
  "difference_of_means",
  "holm",
  "compare",
  "verdict",
  "RULE",
  "markdown_differences",
  "mean_and_2se",
  "format_mean",
  "summary_cell",
  "worst_decile_cumulative",
  "summarize",
  "write_seed_csv",
  "read_seed_csv",
  "markdown_summary",
  "plot_curves",
  "value_at",
  "kept_notes",
  "plot_heatmap",
  "plot_curve_matrix",
  "plot_curve_panels",
  "READINGS",
  "read_curves",
  "moving_average",
  "steps_to_threshold",
]


def mean_and_2se(values: np.ndarray) -> tuple[float, float]:
  """Mean and two standard errors (ddof=1) of a 1-D array; 2SE is 0 for one value."""
  values = np.asarray(values, dtype=np.float64)
  if values.size == 0:
    raise ValueError("mean_and_2se needs at least one value.")
  se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
  return float(values.mean()), float(2.0 * se)


def worst_decile_cumulative(curves: np.ndarray) -> np.ndarray:
  """`[iterations]`: mean cumulative return of the worst 10 % of seeds (at least one)."""
  curves = np.asarray(curves, dtype=np.float64)
  cumulative = np.cumsum(curves, axis=1) / np.arange(1, curves.shape[1] + 1)
  k = max(1, int(math.floor(0.1 * curves.shape[0])))
  return np.sort(cumulative, axis=0)[:k].mean(axis=0)


def value_at(env_steps: np.ndarray, step: int) -> int:
  """Index of the first iteration whose env step count reaches `step` (clipped to the last)."""
  return min(int(np.searchsorted(env_steps, step)), len(env_steps) - 1)


def summarize(
  curves: np.ndarray, env_steps: np.ndarray, checkpoints: Iterable[int]
) -> List[Dict[str, float]]:
  """Rows `{step, env_steps, mean, two_se, worst_decile, seeds}` at each checkpoint."""
  curves = np.asarray(curves, dtype=np.float64)
  if curves.ndim != 2 or curves.shape[1] != len(env_steps):
    raise ValueError(
      f"summarize expects curves [seeds, {len(env_steps)}], received shape " f"{curves.shape}."
    )
  worst = worst_decile_cumulative(curves)
  rows = []
  for step in checkpoints:
    i = value_at(env_steps, step)
    mean, two_se = mean_and_2se(curves[:, i])
    rows.append(
      {
        "step": int(step),
        "env_steps": int(env_steps[i]),
        "mean": mean,
        "two_se": two_se,
        "worst_decile": float(worst[i]),
        "seeds": int(curves.shape[0]),
      }
    )
  return rows


def write_seed_csv(path: str, columns: Mapping[str, Any]) -> None:
  """Writes equally long columns (first one usually `env_steps`) to a CSV file."""
  names = list(columns)
  lengths = {len(columns[n]) for n in names}
  if len(lengths) != 1:
    raise ValueError(f"write_seed_csv: columns have different lengths {sorted(lengths)}.")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names)):
      writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in row])


def read_seed_csv(path: str) -> Dict[str, np.ndarray]:
  with open(path, newline="") as f:
    reader = csv.reader(f)
    names = next(reader)
    rows = [list(map(float, r)) for r in reader]
  data = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
  return {n: data[:, i] for i, n in enumerate(names)}


def format_mean(value: float, two_se: float) -> str:
  """`"mean +- 2 SE"` with the tables' digits: none from 20 up, one from 2 up, else three."""
  digits = 0 if abs(value) >= 20 else (1 if abs(value) >= 2 else 3)
  return f"{value:.{digits}f} +- {two_se:.{digits}f}"


def summary_cell(r: Dict[str, float]) -> str:
  """A checkpoint's table cell from a `summarize` row: mean +- 2 SE and the worst decile
  (the mean alone, marked, for one seed)."""
  digits = 0 if abs(r["mean"]) >= 20 else 3
  if r["seeds"] == 1:  # no spread to report from one seed
    return f"{r['mean']:.{digits}f} (1 seed)"
  return f"{format_mean(r['mean'], r['two_se'])} (worst 10 %: {r['worst_decile']:.{digits}f})"


def markdown_summary(
  summaries: Mapping[str, List[Dict[str, float]]], labels_as_rows: bool = False
) -> str:
  """Table with one column per label: `mean +- 2SE (worst decile)` at each checkpoint.

  `labels_as_rows=True` turns it around (one row per label, one column per checkpoint), for
  sweeps with many configurations.
  """
  labels = list(summaries)
  steps = [r["step"] for r in summaries[labels[0]]]
  if labels_as_rows:
    lines = [
      "| configuration | seeds | " + " | ".join(f"{s:,} steps" for s in steps) + " |",
      "|---|---|" + "---|" * len(steps),
    ]
    for label in labels:
      rows = summaries[label]
      lines.append(
        f"| {label} | {rows[0]['seeds']} | " + " | ".join(summary_cell(r) for r in rows) + " |"
      )
    return "\n".join(lines) + "\n"
  lines = ["| env steps | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
  for j, step in enumerate(steps):
    cells = [summary_cell(summaries[label][j]) for label in labels]
    lines.append(f"| {step:,} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
  """Trailing mean over `window` points along the last axis (the first point repeated
  before the start), as the plots and `tf_equirl.experiments.ppo_tables` smooth curves."""
  if window <= 1 or x.shape[-1] < window:
    return x
  kernel = np.ones(window) / window
  pad = np.concatenate([np.repeat(x[..., :1], window - 1, axis=-1), x], axis=-1)
  return np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), -1, pad)


def steps_to_threshold(
  curve_steps: Any, curve_returns: Any, threshold: float, window: int = 1
) -> np.ndarray:
  """Each seed's first step at which its (smoothed) return reaches `threshold`.

  The return is `moving_average(curve_returns, window)` (trailing mean, `window=1`: the
  curve as evaluated); a seed reaches the threshold at the first point where that is
  `>= threshold`, and its value is that point's `curve_steps` entry.

  Censoring: a seed that never reaches the threshold within its curve gets `inf` (its time
  is only known to be beyond the last step). Compare arms with
  `difference_of_means(a, b, censored_at=curve_steps[-1])` (`tf_equirl.stats`), which counts
  such a seed as reaching the threshold at the last step: conservative, it shrinks
  differences and reports how many seeds were censored. NaN returns (an iteration with no
  finished episode) never count as reaching it.

  Args:
    curve_steps: 1-D increasing env steps of the curve points, length T.
    curve_returns: returns at those points, `[T]` (one seed) or `[seeds, T]`.
    threshold: the return to reach (finite).
    window: points of the trailing moving average (>= 1).

  Returns:
    Float64 steps: a 0-d array for a 1-D curve, else `[seeds]`; `inf` where never reached.

  Raises:
    ValueError: mismatched or empty shapes, steps not increasing, a non-finite threshold or
      a bad window.
  """
  steps = np.asarray(curve_steps, dtype=np.float64)
  returns = np.asarray(curve_returns, dtype=np.float64)
  if steps.ndim != 1 or steps.size == 0:
    raise ValueError(
      f"steps_to_threshold: curve_steps must be a non-empty 1-D array, received shape "
      f"{steps.shape}."
    )
  if np.any(np.diff(steps) <= 0):
    raise ValueError("steps_to_threshold: curve_steps must be strictly increasing.")
  if returns.ndim not in (1, 2) or returns.shape[-1] != steps.size:
    raise ValueError(
      f"steps_to_threshold: curve_returns must be [T] or [seeds, T] with T={steps.size} "
      f"(the length of curve_steps), received shape {returns.shape}."
    )
  if isinstance(threshold, bool) or not isinstance(
    threshold, (int, float, np.integer, np.floating)
  ):
    raise ValueError(f"steps_to_threshold: threshold must be a number, received {threshold!r}.")
  if not math.isfinite(threshold):
    raise ValueError(f"steps_to_threshold: threshold must be finite, received {threshold!r}.")
  if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
    raise ValueError(f"steps_to_threshold: window must be an integer >= 1, received {window!r}.")
  smoothed = moving_average(np.atleast_2d(returns), int(window))
  with np.errstate(invalid="ignore"):
    reached = smoothed >= threshold  # NaN compares False
  first = np.argmax(reached, axis=-1)
  out = np.where(reached.any(axis=-1), steps[first], np.inf)
  return out.reshape(()) if returns.ndim == 1 else out


# Ways to read a return off the per-iteration columns of `seed_<k>.csv` at a step count
# (results/ppo_gaps_catch/README.md): the thesis reads moving averages (window 10) off its curves and
# does not say whether its step axis sums over the environments or whether its return is the
# time-weighted PureJaxRL metric or the mean of the episodes finishing.
READINGS = {
  "ours": "PureJaxRL metric of the iteration reaching the step (the results tables)",
  "ma10": "the same, moving average of 10 iterations",
  "per_env": "step axis per environment: the iteration reaching step x num_envs",
  "finished": "mean return of the episodes finishing in the iteration reaching the step",
  "finished_ma10": "the same, moving average of 10 iterations",
}


def read_curves(
  columns: Sequence[Mapping[str, np.ndarray]],
  checkpoints: Iterable[int],
  num_envs: int,
  reading: str = "ours",
) -> List[Dict[str, float]]:
  """`summarize` rows of the seeds' CSV columns read the way `reading` (a `READINGS` key) says.

  Iterations without a finished episode (finished_return is nan) take the seed's previous
  finished value (0 before the first). A checkpoint that the reading puts past the end of
  the run gets nan.
  """
  if reading not in READINGS:
    raise ValueError(
      f"read_curves: reading must be one of {sorted(READINGS)}, received " f"{reading!r}."
    )
  env_steps = np.asarray(columns[0]["env_steps"])
  key = "finished_return" if reading.startswith("finished") else "mean_return"
  curves = np.stack([np.asarray(c[key], np.float64) for c in columns])
  if key == "finished_return":
    for row in curves:  # carry the last finished value over iterations without one
      last = 0.0
      for i, v in enumerate(row):
        last = v if np.isfinite(v) else last
        row[i] = last
  if reading.endswith("ma10"):
    curves = moving_average(curves, 10)
  scale = num_envs if reading == "per_env" else 1
  batch = env_steps[0]
  rows = []
  for row, step in zip(
    summarize(curves, env_steps, [int(c) * scale for c in checkpoints]), checkpoints
  ):
    if int(step) * scale > env_steps[-1] + batch - 1:
      row.update(mean=math.nan, two_se=math.nan, worst_decile=math.nan)
    rows.append(dict(row, step=int(step)))
  return rows


def _plot_band(ax, env_steps: np.ndarray, curves, window: int, alpha: float = 0.25, **line_kwargs):
  """Draws the mean over seeds of `curves` `[seeds, iterations]` and its +- 2 SE band
  (moving averages over `window` iterations) on `ax`; returns the line."""
  c = np.asarray(curves, dtype=np.float64)
  mean = moving_average(c.mean(axis=0), window)
  se = (
    moving_average(c.std(axis=0, ddof=1) / np.sqrt(c.shape[0]), window)
    if c.shape[0] > 1
    else np.zeros_like(mean)
  )
  (line,) = ax.plot(env_steps, mean, **line_kwargs)
  ax.fill_between(env_steps, mean - 2 * se, mean + 2 * se, alpha=alpha, color=line.get_color())
  return line


_LINESTYLES = ("-", "--", ":", "-.")


def line_style(index: int) -> Dict[str, Any]:
  """Colour and line style of the `index`-th curve of a figure: matplotlib's ten default
  colours, then the same colours dashed, dotted and dash-dotted, so that up to 40 curves of
  one figure never share both."""
  return dict(color=f"C{index % 10}", linestyle=_LINESTYLES[(index // 10) % len(_LINESTYLES)])


def pyplot():
  """`matplotlib.pyplot` on the file-only Agg backend, imported on first use (about half a
  second; `run_experiment` does it in a thread while XLA compiles)."""
  import matplotlib  # pylint: disable=import-outside-toplevel

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  return plt


def plot_curves(
  path: str,
  curves: Mapping[str, np.ndarray],
  env_steps: np.ndarray,
  title: str = "",
  window: int = 10,
) -> None:
  """Thesis Fig. 4.3 style: left mean +- 2SE band, right worst-decile cumulative mean.

  Both panels use a moving average over `window` iterations, as the thesis does.
  """
  plt = pyplot()

  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
  for index, (label, c) in enumerate(curves.items()):
    c = np.asarray(c, dtype=np.float64)
    style = line_style(index)
    _plot_band(left, env_steps, c, window, label=f"{label} ({c.shape[0]} seeds)", **style)
    right.plot(env_steps, moving_average(worst_decile_cumulative(c), window), label=label, **style)
  left.set(xlabel="environment steps", ylabel="episodic return", title="mean +- 2 standard errors")
  right.set(
    xlabel="environment steps", ylabel="cumulative mean return", title="worst 10 % of seeds"
  )
  for ax in (left, right):
    ax.grid(alpha=0.3)
    ax.legend()
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_curve_panels(
  path: str,
  panels: Mapping[str, Mapping[str, np.ndarray]],
  env_steps: np.ndarray,
  title: str = "",
  window: int = 10,
) -> None:
  """One mean +- 2SE panel per entry of `panels` (`{panel title: {label: curves}}`),
  three panels a row, same colours for the same label in every panel. A label's value is
  `curves` `[seeds, iterations]` over `env_steps`, or `(its own env_steps, curves)` for runs
  whose iterations fall on other step counts."""
  plt = pyplot()

  cols = min(3, len(panels))
  rows = int(math.ceil(len(panels) / cols))
  fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
  styles: Dict[str, Dict[str, Any]] = {}
  for ax, (name, curves) in zip(axes.flat, panels.items()):
    for label, c in curves.items():
      steps, c = c if isinstance(c, tuple) else (env_steps, c)
      style = styles.setdefault(label, line_style(len(styles)))
      _plot_band(ax, steps, c, window, alpha=0.2, label=label, **style)
    ax.set(title=name, xlabel="environment steps", ylabel="episodic return")
    ax.grid(alpha=0.3)
  for ax in list(axes.flat)[len(panels) :]:
    ax.axis("off")
  axes.flat[0].legend()
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _value_text(value) -> str:
  return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_heatmap(
  path: str,
  x_name: str,
  x_values: Sequence,
  y_name: str,
  y_values: Sequence,
  cells: Mapping[tuple, Dict[str, float]],
  title: str = "",
) -> None:
  """Thesis Fig. 4.11 style heatmap of a two-field sweep at one checkpoint.

  `cells[(x, y)]` is a `summarize` row (`mean`, `two_se`, `worst_decile`, `seeds`); each
  cell shows the mean +- 2SE and, in brackets, the worst decile. Missing cells stay blank.
  """
  plt = pyplot()

  grid = np.full((len(y_values), len(x_values)), np.nan)
  for (x, y), r in cells.items():
    grid[list(y_values).index(y), list(x_values).index(x)] = r["mean"]
  fig, ax = plt.subplots(figsize=(1.6 * len(x_values) + 2.5, 0.9 * len(y_values) + 1.8))
  image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
  fig.colorbar(image, ax=ax, label="mean episodic return")
  finite = grid[np.isfinite(grid)]
  middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
  for (x, y), r in cells.items():
    i, j = list(y_values).index(y), list(x_values).index(x)
    digits = 0 if abs(r["mean"]) >= 20 else 2
    ax.text(
      j,
      i,
      f"{r['mean']:.{digits}f}\n+- {r['two_se']:.{digits}f}\n" f"({r['worst_decile']:.{digits}f})",
      ha="center",
      va="center",
      fontsize=8,
      color="white" if r["mean"] < middle else "black",
    )
  ax.set_xticks(range(len(x_values)), [_value_text(v) for v in x_values])
  ax.set_yticks(range(len(y_values)), [_value_text(v) for v in y_values])
  ax.set(xlabel=x_name, ylabel=y_name, title=title)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_curve_matrix(
  path: str,
  x_name: str,
  x_values: Sequence,
  y_name: str,
  y_values: Sequence,
  cells: Mapping[tuple, tuple],
  title: str = "",
  window: int = 10,
) -> None:
  """Thesis Fig. 4.11 style matrix of learning curves: one panel per `(x, y)` of a sweep.

  `cells[(x, y)] = (env_steps, curves [seeds, iterations])`; each panel shows the mean +- 2SE
  band (moving average over `window` iterations) on shared axes. Missing cells stay empty.
  """
  plt = pyplot()

  rows, cols = len(y_values), len(x_values)
  fig, axes = plt.subplots(
    rows,
    cols,
    figsize=(2.6 * cols + 0.8, 2.0 * rows + 0.8),
    sharex=True,
    sharey=True,
    squeeze=False,
  )
  for i, y in enumerate(reversed(list(y_values))):  # largest y on top, as the heatmap
    for j, x in enumerate(x_values):
      ax = axes[i][j]
      ax.grid(alpha=0.3)
      if (x, y) not in cells:
        continue
      env_steps, c = cells[(x, y)]
      _plot_band(ax, env_steps, c, window)
      if i == 0:
        ax.set_title(f"{x_name}={_value_text(x)}", fontsize=9)
      if j == 0:
        ax.set_ylabel(f"{y_name}={_value_text(y)}", fontsize=9)
  fig.supxlabel("environment steps")
  if title:
    fig.suptitle(f"{title}: mean return +- 2 standard errors")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def write_json(path: str, data) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)


NOTES_HEADING = "## Notes"  # a hand-written section from this heading on survives regeneration


def kept_notes(path: str) -> str:
  """The hand-written notes (from `NOTES_HEADING` on) of a results file, to keep on rewrite."""
  if not os.path.exists(path):
    return ""
  text = open(path).read()
  at = text.find("\n" + NOTES_HEADING)
  return text[at:] if at >= 0 else ""
