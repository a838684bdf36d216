"""tf_equirl.results' figures: every curve of a figure can be told apart."""

import numpy as np

from tf_equirl import results


def test_line_styles_differ_for_forty_curves():
  styles = {tuple(sorted(results.line_style(i).items())) for i in range(40)}
  assert len(styles) == 40


def _figures(monkeypatch):
  plt = results.pyplot()
  kept = []
  monkeypatch.setattr(plt, "close", kept.append)
  return kept


def _styles(ax):
  return [(line.get_label(), line.get_color(), line.get_linestyle()) for line in ax.get_lines()]


def test_curves_beyond_the_tenth_colour_get_their_own_style(tmp_path, monkeypatch):
  kept = _figures(monkeypatch)
  rng = np.random.default_rng(0)
  steps = np.arange(1, 21) * 100.0
  curves = {f"arm_{i}": rng.normal(size=(3, 20)) + i for i in range(12)}
  results.plot_curves(str(tmp_path / "curves.png"), curves, steps, window=2)
  (fig,) = kept
  assert (tmp_path / "curves.png").exists()
  for ax in fig.axes:
    drawn = _styles(ax)
    assert len(drawn) == 12
    assert len({(c, s) for _, c, s in drawn}) == 12, drawn
  left, right = fig.axes
  # The same arm has the same colour and style in both panels.
  assert [d[1:] for d in _styles(left)] == [d[1:] for d in _styles(right)]


def test_panels_keep_one_style_per_label(tmp_path, monkeypatch):
  kept = _figures(monkeypatch)
  steps = np.arange(1, 11) * 10.0
  labels = [f"arm_{i}" for i in range(11)]
  panels = {
    "first": {label: np.ones((2, 10)) * i for i, label in enumerate(labels)},
    # A panel that lacks the first label and lists the others backwards.
    "second": {label: np.ones((2, 10)) for label in reversed(labels[1:])},
  }
  results.plot_curve_panels(str(tmp_path / "panels.png"), panels, steps, window=1)
  (fig,) = kept
  first = {label: rest for label, *rest in _styles(fig.axes[0])}
  second = {label: rest for label, *rest in _styles(fig.axes[1])}
  assert len({tuple(v) for v in first.values()}) == 11
  assert set(second) == set(labels[1:])  # every line of the second panel is drawn
  assert all(second[label] == first[label] for label in second)
