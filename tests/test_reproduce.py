"""Many-seed PPO comparisons: network specs, sample efficiency and the report writer."""

import numpy as np
import pytest

from tf_equirl.experiments import ppo_tables

COUNTS = {"actor": 10, "critic": 20}


def test_parse_network_specs_and_errors():
  assert ppo_tables.parse_network("gcnn@C4:invariant") == ("gcnn", "C4", "invariant")
  assert ppo_tables.parse_network("symmetrizer") == ("symmetrizer", None, "mlp")
  for bad, needle in (
    ("cnn", "unknown actor"),
    ("gcnn:value", "unknown critic"),
    ("gcnn@:mlp", "subgroup name"),
    ("", "network spec must be a non-empty string"),
  ):
    with pytest.raises(ValueError, match=needle):
      ppo_tables.parse_network(bad)
  with pytest.raises(ValueError, match="twice"):
    ppo_tables.network_arms("Catch-v0", ["mlp", "mlp"])


def test_network_arms_carry_the_spec_and_overrides():
  arms = ppo_tables.network_arms("Catch-v0", ["mlp", "gcnn:invariant"], total_steps=4096)
  assert [a.name for a in arms] == ["mlp", "gcnn:invariant"]
  assert arms[1].config.network == "gcnn" and arms[1].config.critic == "invariant"
  assert all(a.config.total_steps == 4096 for a in arms)
  assert arms[1].config.num_minibatches == 51  # Catch's defaults still apply
  assert [a.name for a in ppo_tables.network_arms("CartPole-v1")] == ["mlp", "symmetrizer", "gcnn"]


def _ramp(seeds, n, rate, rng):
  """Curves rising from 0 to 1 at `rate` per iteration, with noise."""
  t = np.arange(n)
  return np.clip(rate * t, 0, 1)[None] + 0.01 * rng.standard_normal((seeds, n))


def test_sample_efficiency_orders_faster_learners_first():
  rng = np.random.default_rng(0)
  steps = np.arange(1, 101) * 512
  runs = {
    "mlp": (steps, _ramp(8, 100, 0.01, rng), COUNTS),
    "gcnn": (steps, _ramp(8, 100, 0.02, rng), COUNTS),
    "never": (steps, np.zeros((8, 100)), COUNTS),
  }
  threshold, eff = ppo_tables.sample_efficiency(runs)
  assert threshold == pytest.approx(float(np.mean(runs["mlp"][1][:, -1])))  # the MLP's end
  assert eff["gcnn"]["median_steps"] < eff["mlp"]["median_steps"]
  assert eff["gcnn"]["speedup"] == pytest.approx(2.0, rel=0.15)
  no_mlp = {k: v for k, v in runs.items() if k != "mlp"}
  assert 0.85 < ppo_tables.sample_efficiency(no_mlp)[0] < 0.95  # 90 % of the way from 0 to 1
  assert eff["never"]["reached"] == 0.0 and eff["never"]["median_steps"] == steps[-1]
  assert eff["gcnn"]["auc"] > eff["mlp"]["auc"] > eff["never"]["auc"]


def test_write_report_reads_checkpoints_it_reached_and_keeps_notes(tmp_path):
  rng = np.random.default_rng(1)
  arms = ppo_tables.network_arms("Catch-v0", ["mlp", "gcnn", "gcnn:invariant"], total_steps=12_288)
  steps = np.arange(1, 25) * 512
  runs = {
    a.name: (steps, _ramp(4, 24, 0.05 * (i + 1), rng) * 2 - 1, COUNTS) for i, a in enumerate(arms)
  }
  path = str(tmp_path / "ppo_catch.md")
  with open(path, "w") as f:
    f.write("old\n\n## Notes\n\nmy note\n")
  ppo_tables.write_report(path, "Catch-v0", arms, runs, range(4), "python -m x")
  text = open(path).read()
  assert "| 2,000 |" in text and "| 10,000 |" in text
  assert "| 20,000 |" not in text.split("Thesis")[0]  # not reached: not read
  assert "Table 4.4" in text and "0.95 +- 0.03" in text
  assert "| gcnn:invariant | C2 | 2 | 10 | 20 | 30 |" in text
  assert text.rstrip().endswith("my note") and "old" not in text
  assert (tmp_path / "ppo_catch.png").exists()


def test_online_grid_report_with_cells_on_other_step_counts(tmp_path):
  """Dyna cells whose curves fall on other step counts than the baseline's (their
  iterations are cut to whole Dyna iterations) are plotted on their own x-axes."""
  from tf_equirl.experiments import dyna_tables

  arms = dyna_tables.online_grid_arms(
    "CartPole-v1",
    models=("mlp", "gcnn"),
    ratios=(1.0,),
    iterations=(2, 4),
    total_steps=8192,
    model_epochs=1,
  )
  rng = np.random.default_rng(0)
  runs = {}
  for arm in arms:
    n = 8 if arm.name == "baseline" else 7  # iterations falling on other step counts
    steps = np.arange(1, n + 1) * (8192 // n)
    runs[arm.name] = (steps, rng.uniform(20, 200, (3, n)), {"actor": 1, "critic": 1})
  path = dyna_tables.write_grid_report(
    str(tmp_path / "grid.md"), "CartPole-v1", arms, runs, list(range(3)), "python -m x"
  )
  text = open(path).read()
  assert "gcnn world model" in text and (tmp_path / "grid.png").exists()
  final = min(int(runs[a.name][0][-1]) for a in arms if a.name != "baseline")
  assert f"at {final:,} real steps" in text  # the end of the shortest cell is reported
  # Every cell against the baseline at every checkpoint (here only the final one).
  table = text.split("### Each cell against the baseline")[1]
  cells = [a.name for a in arms if a.name != "baseline"]
  assert sum(line.startswith("| online_") for line in table.splitlines()) == len(cells)
  assert f"online_gcnn_pr1_it4 ({final:,} steps) - baseline ({final:,} steps)" in table


def test_online_grid_report_bolds_the_cells_that_beat_the_baseline_after_holm(tmp_path):
  """A cell is bold where the Holm-corrected comparisons table reads "beats"; a cell whose
  lead is within the noise is not, even where its 2-SE interval clears the baseline's."""
  from tf_equirl.experiments import dyna_tables

  arms = dyna_tables.online_grid_arms(
    "CartPole-v1", models=("mlp", "gcnn"), ratios=(1.0, 2.0), iterations=(2, 4), total_steps=8192
  )
  rng = np.random.default_rng(0)
  steps = np.arange(1, 9) * 1024
  noise = rng.normal(0.0, 1.0, (8, 8))
  lift = {"online_gcnn_pr2_it4": 40.0}
  runs = {
    a.name: (steps, 100.0 + lift.get(a.name, 0.0) + 10.0 * noise + rng.normal(0, 0.5, (8, 8)), {})
    for a in arms
  }
  # The baseline's own draws: every other cell is level with it.
  runs["baseline"] = (steps, 100.0 + 10.0 * noise, {})
  path = dyna_tables.write_grid_report(
    str(tmp_path / "grid.md"), "CartPole-v1", arms, runs, list(range(8)), "python -m x"
  )
  text = open(path).read()
  grid = text.split("### Each cell against the baseline")[0]
  rows = [line for line in grid.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
  assert len(rows) == 4  # ratios 1 and 2 of each world model
  assert [line.count("**") for line in rows] == [0, 0, 0, 2]  # gcnn, ratio 2: one bold cell
  assert "beat the baseline at a checkpoint or more: online_gcnn_pr2_it4." in text
  assert "online_gcnn_pr2_it4 (8,192 steps) beats baseline (8,192 steps)" in text
  assert "online_mlp_pr2_it4 (8,192 steps) level with baseline (8,192 steps)" in text
  assert "Holm's correction across them" in text


def test_a_comparisons_table_refuses_a_pair_that_names_no_arm():
  from tf_equirl.experiments import _compare

  values = {"a": np.arange(4.0), "b": np.arange(4.0) + 1}
  seeds = {"a": range(4), "b": range(4)}
  with pytest.raises(ValueError, match="names 'c', which has no values"):
    _compare.comparisons_section(values, [("a", "c")], seeds)
  # Too few finite values is missing data, not a mistake: left out, and said so.
  values["c"] = np.array([1.0, np.nan, 2.0, 3.0])
  text = _compare.comparisons_section(values, [("a", "b"), ("c", "b")], {**seeds, "c": range(4)})
  assert "Left out (fewer than 2 finite per-seed values): c - b." in text


def test_a_family_with_pending_pairs_makes_the_others_as_the_complete_family_would():
  """An interim table: the pairs that can be made are the complete table's (same bootstrap),
  and Holm's correction counts the pending ones at p = 1, so it is never below the complete
  table's correction of the same values."""
  from tf_equirl import stats
  from tf_equirl.experiments import _compare

  rng = np.random.default_rng(0)
  shared = rng.standard_normal(8)
  values = {
    "a": shared + 1.0 + 0.1 * rng.standard_normal(8),
    "b": shared + 0.1 * rng.standard_normal(8),
    "c": shared + 0.02 * rng.standard_normal(8),
    "d": shared + 0.5 + 0.3 * rng.standard_normal(8),
    "e": np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
  }
  seeds = {k: range(8) for k in values}
  pairs = [("a", "b"), ("e", "b"), ("c", "b"), ("d", "b"), ("a", "c")]
  complete, complete_left_out = _compare.compared(values, pairs, seeds)
  assert complete_left_out == ["e - b"]
  # All there: the same table as `compared`.
  same, left_out, pending = _compare.compared_in_family(values, pairs, seeds)
  assert (same, left_out, pending) == (complete, ["e - b"], [])
  # "d" still training: its pair is pending, the others are made with the complete table's
  # bootstrap seeds, and Holm runs over 4 comparisons with the pending one at p = 1.
  partial = {k: v for k, v in values.items() if k != "d"}
  made, left_out, pending = _compare.compared_in_family(partial, pairs, seeds)
  assert pending == ["d - b"] and left_out == ["e - b"]
  by_name = {(d.a, d.b): d for d in complete}
  assert [(d.a, d.b) for d in made] == [("a", "b"), ("c", "b"), ("a", "c")]
  raw = [max(d.p_bootstrap, d.p_t) for d in made]
  np.testing.assert_allclose([d.p_holm for d in made], stats.holm(raw + [1.0])[:3])
  for d in made:
    full = by_name[(d.a, d.b)]
    assert (d.ci_low, d.ci_high, d.p_bootstrap) == (full.ci_low, full.ci_high, full.p_bootstrap)
    assert d.p_holm >= full.p_holm
  assert made[0].p_holm < 0.05  # a is clearly above b: significant even with "d" pending
  # A pair of two pending arms, and a family of pending pairs only.
  assert _compare.compared_in_family({}, [("x", "y")], {}) == ([], [], ["x - y"])


def test_the_group_ladder_compares_one_rung_at_a_time_and_the_baselines_with_the_gcnn():
  orders = {
    "mlp": ("-", 1),
    "gcnn": ("D4", 8),
    "gcnn@C4": ("C4", 4),
    "gcnn@C2": ("C2", 2),
    "augment": ("D4", 8),
    "symmetrizer": ("D4", 8),
    "steerable": ("D4", 8),
    "steerable@C2": ("C2", 2),
    "gcnn:invariant": ("D4", 8),
  }
  pairs = ppo_tables.ladder_pairs(orders)
  assert pairs[:5] == [
    ("gcnn@C2", "mlp"),
    ("gcnn@C4", "gcnn@C2"),
    ("gcnn", "gcnn@C4"),
    ("steerable@C2", "mlp"),
    ("steerable", "steerable@C2"),
  ]
  assert set(pairs[5:]) == {
    ("augment", "gcnn"),
    ("symmetrizer", "gcnn"),
    ("steerable", "gcnn"),
    ("gcnn:invariant", "gcnn"),
  }
  # A family over one group has no rungs; without a top-group G-CNN there are no baselines.
  assert ppo_tables.ladder_pairs({"mlp": ("-", 1), "augment": ("D4", 8)}) == []


def test_grid_report_tests_the_ladder_on_the_mean_return_over_the_run(tmp_path):
  rng = np.random.default_rng(3)
  names = ["mlp", "gcnn@C2", "gcnn@C4", "gcnn", "augment"]
  arms = ppo_tables.network_arms("GridWorld-v0", names, total_steps=12_288)
  steps = np.arange(1, 25) * 512
  shared = 0.05 * rng.standard_normal((8, 1))
  rates = {"mlp": 0.01, "gcnn@C2": 0.03, "gcnn@C4": 0.06, "gcnn": 0.12, "augment": 0.12}
  runs = {n: (steps, _ramp(8, 24, rates[n], rng) + shared, COUNTS) for n in names}
  path = str(tmp_path / "grid.md")
  ppo_tables.write_report(path, "GridWorld-v0", arms, runs, range(8), "python -m x")
  section = open(path).read().split("## Along the group ladder")[1].split("![curves]")[0]
  for a, b in [("gcnn@C2", "mlp"), ("gcnn@C4", "gcnn@C2"), ("gcnn", "gcnn@C4")]:
    assert f"| {a} - {b} |" in section and f"{a} beats {b}" in section
  assert "| augment - gcnn |" in section and "augment level with gcnn" in section


def test_write_report_compares_each_network_with_the_mlp(tmp_path):
  """The comparisons table: paired over seeds, Holm across the table, worded by the rule."""
  from tf_equirl import stats

  rng = np.random.default_rng(2)
  arms = ppo_tables.network_arms("Catch-v0", ["mlp", "gcnn", "symmetrizer"], total_steps=12_288)
  steps = np.arange(1, 25) * 512
  shared = 0.3 * rng.standard_normal((8, 1))  # what a seed shares between the arms
  base = _ramp(8, 24, 0.05, rng) + shared
  runs = {
    "mlp": (steps, base, COUNTS),
    "gcnn": (steps, base + 0.5 + 0.01 * rng.standard_normal((8, 24)), COUNTS),
    "symmetrizer": (steps, base + 0.01 * rng.standard_normal((8, 24)), COUNTS),
  }
  path = str(tmp_path / "ppo_catch.md")
  ppo_tables.write_report(path, "Catch-v0", arms, runs, range(8), "python -m x")
  text = open(path).read()
  section = text.split("## Each network against the MLP")[1]
  rows = [
    line
    for line in section.splitlines()
    if line.startswith("| gcnn (") or line.startswith("| symmetrizer (")
  ]
  assert len(rows) == 4  # two networks at the two checkpoints reached (2,000 and 10,000)
  for step in ("2,000", "10,000"):
    assert f"gcnn ({step} steps) beats mlp ({step} steps)" in section
    assert f"symmetrizer ({step} steps) level with mlp ({step} steps)" in section
  assert "8 paired" in rows[0]
  assert text.count(stats.RULE) == 1


def test_dyna_tables_report_at_the_configured_checkpoints(tmp_path, monkeypatch):
  """`DynaTablesConfig.checkpoints` sets the rows (here 200,000 for thesis 4.7.5.3's "40 %
  completion"); a checkpoint below 1 is refused by name."""
  from tf_equirl.experiments import dyna_tables

  with pytest.raises(ValueError, match="checkpoints"):
    dyna_tables.DynaTablesConfig(checkpoints=(0, 10_000))
  config = dyna_tables.DynaTablesConfig(
    env="CartPole-v1",
    seeds=3,
    planning_ratios=(1,),
    models=("gcnn",),
    total_steps=300_000,
    checkpoints=(10_000, 100_000, 200_000),
    runs=str(tmp_path / "runs"),
    results=str(tmp_path / "results"),
    progress=False,
  )
  rng = np.random.default_rng(0)
  steps = np.arange(1, 601) * 512

  def fake_train(arms, seeds, runs_dir, **kwargs):
    return {a.name: (steps, rng.uniform(20, 500, (3, 600)), COUNTS) for a in arms}

  monkeypatch.setattr(dyna_tables, "train_arms", fake_train)
  text = open(dyna_tables.run(config), encoding="utf-8").read()
  section = text.split("## Every configuration")[1]
  for row in ("| 10,000 |", "| 100,000 |", "| 200,000 |"):
    assert row in section
  assert "| 500,000 |" not in section


def test_dyna_report_tests_each_equivariant_world_model_against_the_mlp_one(tmp_path, monkeypatch):
  """The supervised tables pair every equivariant world model's arm with the MLP model's arm
  of the same planning ratio; a clearly better G-CNN model is read as beating it, and the
  proximal model's arms are paired too."""
  from tf_equirl.experiments import dyna_tables

  config = dyna_tables.DynaTablesConfig(
    env="Catch-v0",
    seeds=6,
    planning_ratios=(1, 2),
    models=("mlp", "gcnn", "gcnn_proximal"),
    runs=str(tmp_path / "runs"),
    results=str(tmp_path / "results"),
    progress=False,
  )
  pairs = dyna_tables.world_model_pairs(config.arms())
  assert pairs == [
    ("equi_dyna_pr1", "dyna_pr1"),
    ("equi_dyna_pr2", "dyna_pr2"),
    ("equi_dyna_proximal_pr1", "dyna_pr1"),
    ("equi_dyna_proximal_pr2", "dyna_pr2"),
  ]
  rng = np.random.default_rng(0)
  steps = np.arange(1, 41) * 512

  def fake_train(arms, seeds, runs_dir, **kwargs):
    out = {}
    for a in arms:
      lift = 0.5 if a.agent == "equi_dyna" else 0.0
      out[a.name] = (steps, lift + 0.01 * rng.standard_normal((6, steps.size)), COUNTS)
    return out

  monkeypatch.setattr(dyna_tables, "train_arms", fake_train)
  text = open(dyna_tables.run(config), encoding="utf-8").read()
  section = text.split("## Each equivariant world model against the MLP world model")[1]
  assert "equi_dyna_pr2 (20,000 steps) beats dyna_pr2 (20,000 steps)" in section
  assert "equi_dyna_proximal_pr1 (10,000 steps) level with dyna_pr1 (10,000 steps)" in section
  # without an MLP world model there is nothing to pair
  assert dyna_tables.world_model_pairs([a for a in config.arms() if a.agent != "dyna"]) == []


def test_a_preset_table_names_its_preset_and_settings(tmp_path, monkeypatch):
  config = ppo_tables.PPOTablesConfig(
    env="Catch-v0",
    seeds=3,
    networks=("mlp",),
    preset="large_step",
    runs=str(tmp_path / "runs"),
    results=str(tmp_path / "results"),
    progress=False,
  )
  assert all(a.config.learning_rate == 2.5e-3 for a in config.arms())
  steps = np.arange(1, 41) * 512
  monkeypatch.setattr(
    ppo_tables,
    "train_arms",
    lambda arms, *a, **k: {x.name: (steps, np.zeros((3, 40)), COUNTS) for x in arms},
  )
  text = open(ppo_tables.run(config)).read()
  assert text.startswith(
    "# PPO on Catch-v0 with the `large_step` preset (learning_rate=0.0025; the rest the thesis')"
  )
