"""The controlled Dyna-vs-PPO study (`tf_equirl.experiments.dyna_controlled`): its arms, the
declared comparisons, the declaration written before training and kept verbatim, and a tiny
run end to end."""

import dataclasses
import os
import re

import numpy as np
import pytest

from tf_equirl.agents.dyna import matched_ppo_config
from tf_equirl.agents.dyna.config import DynaConfig
from tf_equirl.agents.ppo.config import PPOConfig
from tf_equirl.experiments import dyna_controlled as study


def _config(tmp_path, **fields):
  base = dict(
    env="Catch-v0",
    seeds=2,
    total_steps=800,
    dyna_iterations=2,
    model_epochs=1,
    runs=str(tmp_path / "runs"),
    results=str(tmp_path / "results"),
    progress=False,
  )
  base.update(fields)
  return study.ControlledDynaConfig(**base)


def test_arms_share_the_real_budget_and_carry_their_controls(tmp_path):
  config = _config(tmp_path)
  tuned = {"learning_rate": 1e-3, "num_epochs": 8}
  arms = {arm.name: arm for arm in study.arms(config, tuned)}
  assert tuple(arms) == study.ARMS
  assert arms["ppo_tuned"].config == dataclasses.replace(arms["ppo"].config, **tuned)
  with pytest.raises(ValueError, match="ppo_tuned arm needs the tuned configuration"):
    study.arms(config)
  real = arms["dyna_mlp"].config.total_real_steps
  for name, arm in arms.items():
    cfg = arm.config
    steps = cfg.total_steps if isinstance(cfg, PPOConfig) else cfg.total_real_steps
    assert steps == real, name
  assert arms["dyna_true"].config.world_model == "true"
  assert arms["dyna_untrained"].config.model_training is False
  assert arms["dyna_gcnn_proximal"].config.world_model == "gcnn_proximal"
  dyna_arms = [name for name in study.ARMS if name.startswith("dyna_")]
  assert len(dyna_arms) == 8
  for name in dyna_arms:
    assert isinstance(arms[name].config, DynaConfig) and arms[name].config.mode == "online"
    assert arms[name].config.planning_ratio == config.planning_ratio
    # Only the `_outcome` arms' world models learn the reward and termination; each is
    # otherwise its rule-based twin.
    learned = arms[name].config.learned_outcome
    assert learned == name.endswith("_outcome"), name
    if learned:
      twin = arms[name[: -len("_outcome")]].config
      assert arms[name].config == dataclasses.replace(twin, learned_outcome=True)
  matched = matched_ppo_config(arms["dyna_mlp"].config)
  assert arms["ppo_matched"].config == matched.config
  assert arms["ppo"].config.num_epochs * arms["ppo"].config.num_minibatches < (
    matched.config.num_epochs * matched.config.num_minibatches
  )


def test_comparisons_are_declared_among_the_arms_present(tmp_path):
  full = study.comparisons(_config(tmp_path))
  assert ("dyna_gcnn", "ppo_matched") in full and ("dyna_true", "ppo_matched") in full
  assert ("dyna_gcnn_proximal", "dyna_mlp") in full and ("dyna_mlp", "dyna_untrained") in full
  assert ("dyna_gcnn_outcome", "dyna_gcnn") in full
  assert ("dyna_gcnn_proximal_outcome", "ppo_matched") in full
  assert ("dyna_mlp", "ppo_tuned") in full
  assert len(full) == len(set(full)) == 21
  some = study.comparisons(_config(tmp_path, arms=("ppo", "dyna_mlp", "dyna_gcnn")))
  assert some == [("dyna_mlp", "ppo"), ("dyna_gcnn", "ppo"), ("dyna_gcnn", "dyna_mlp")]
  text = study.declaration(_config(tmp_path))
  for a, b in full:
    assert f"| {a} - {b} |" in text
  assert "| dyna_mlp_outcome - dyna_mlp | does learning the reward and termination" in text


@pytest.mark.parametrize(
  "field, value, words",
  [
    ("env", "Pong-v0", "CartPole-v1"),
    ("arms", ("ppo", "sac"), "distinct names"),
    ("arms", ("ppo", "ppo"), "distinct names"),
    ("seeds", 0, "seeds"),
    ("threshold", float("nan"), "finite"),
    ("backend", "slurm", "backend"),
    ("dyna_iterations", 1000, "dyna_iterations"),
    ("tuning_seeds", 0, "tuning_seeds"),
    ("tuning_epochs", (4, 0), "num_epochs"),
    ("tuning_learning_rates", (1e-3, "fast"), "learning_rate"),
  ],
)
def test_bad_config_names_the_field(tmp_path, field, value, words):
  with pytest.raises(ValueError, match=words):
    _config(tmp_path, **{field: value})


def test_the_declaration_is_written_before_training_and_kept(tmp_path, monkeypatch):
  config = _config(tmp_path, arms=("ppo_matched", "dyna_true", "dyna_untrained"))
  seen = {}

  def fake_train(arms, seeds, runs_dir, **kwargs):
    seen["text"] = open(config.report_path, encoding="utf-8").read()
    rng = np.random.default_rng(0)
    steps = np.arange(1, 9) * 100
    out = {}
    for k, arm in enumerate(arms):
      curves = np.minimum(1.0, np.linspace(-1, 1 + k, 8)[None, :] + rng.normal(0, 0.1, (2, 8)))
      out[arm.name] = (steps, curves, {})
    return out

  monkeypatch.setattr(study, "train_arms", fake_train)
  path = study.run(config)
  declared = study.declaration(config)
  assert declared in seen["text"] and study.PENDING in seen["text"]
  assert "## Results" not in seen["text"]
  text = open(path, encoding="utf-8").read()
  assert declared in text and "## Results" in text and study.PENDING not in text
  assert text.index(declared) < text.index("## Results")
  assert "| dyna_true - ppo_matched |" in text
  assert os.path.exists(os.path.splitext(path)[0] + ".png")


def test_the_tuned_ppo_is_chosen_on_tuning_seeds_and_reported(tmp_path, monkeypatch):
  """The sweep trains every configuration of the grid on seeds that are not study seeds;
  the configuration with the best return at the last step becomes `ppo_tuned`, and the
  report lists every configuration with the chosen one marked."""
  config = _config(tmp_path, arms=("ppo", "ppo_tuned", "dyna_mlp"), tuning_seeds=3)
  grid = study.tuning_grid(config)
  assert len(grid) == 6 and grid[0] == {"learning_rate": 3.5e-4, "num_epochs": 4}
  calls = []

  def fake_train(arms, seeds, runs_dir, **kwargs):
    calls.append(([arm.name for arm in arms], list(seeds), runs_dir))
    steps = np.arange(1, 9) * 100
    out = {}
    for k, arm in enumerate(arms):
      # Tuning: the configuration of learning rate 1e-3 and 8 epochs is best.
      cfg = arm.config
      best = arm.agent == "tuning" and (cfg.learning_rate, cfg.num_epochs) == (1e-3, 8)
      level = 0.9 if best else 0.1 * (k % 3)
      out[arm.name] = (steps, np.full((len(seeds), 8), level), {})
    return out

  monkeypatch.setattr(study, "train_arms", fake_train)
  text = open(study.run(config), encoding="utf-8").read()
  (names, seeds, runs_dir), (study_names, study_seeds, _) = calls
  assert len(names) == 6 and seeds == [10_000, 10_001, 10_002]
  assert runs_dir.endswith("ppo_tuning") and not set(seeds) & set(study_seeds)
  assert study_names == ["ppo", "ppo_tuned", "dyna_mlp"] and study_seeds == [0, 1]
  assert re.search(r"\| learning_rate=0\.001, num_epochs=8 \| 0\.9 \+- [^|]+ \| yes \|", text)
  assert text.count("| yes |") == 1
  assert "- Tuned PPO: 6 configurations" in text and "| dyna_mlp - ppo_tuned |" in text


def test_fewer_steps_to_the_threshold_read_as_better():
  from tf_equirl import stats

  fast, slow = np.array([100.0, 120, 110, 90, 105]), np.array([400.0, 420, 390, 410, 405])
  (diff,) = stats.compare({"fast": fast, "slow": slow}, [("fast", "slow")])
  assert diff.difference < 0 and diff.p_holm < 0.05
  assert stats.verdict(diff) == "trails"
  assert stats.verdict(diff, lower_is_better=True) == "beats"
  assert "fast beats slow" in stats.markdown_differences([diff], lower_is_better=True)


def test_a_declared_study_reads_as_declared_in_the_results_index(tmp_path):
  from tf_equirl.experiments import registry

  path = study.declare(_config(tmp_path))
  text = open(path, encoding="utf-8").read()
  assert study.declaration(_config(tmp_path)) in text and study.PENDING in text
  assert registry.status(path, "cmd").startswith("declared, not run yet")


def test_rewriting_the_report_keeps_its_hand_written_notes(tmp_path):
  path = study.declare(_config(tmp_path))
  with open(path, "a", encoding="utf-8") as f:
    f.write("\n## Notes\n\n- Read the second measure.\n")
  for _ in range(2):
    text = open(study.declare(_config(tmp_path)), encoding="utf-8").read()
    assert text.count("## Notes\n\n- Read the second measure.") == 1
    assert text.index(study.PENDING) < text.index("## Notes")


def test_the_finding_counts_the_readings_of_both_measures(tmp_path):
  """On synthetic seeds where dyna_gcnn is clearly better than PPO on both measures and
  dyna_mlp is indistinguishable from it, the sentence counts one comparison per arm and
  measure: ahead in 2 (dyna_gcnn), level in 2 (dyna_mlp)."""
  from tf_equirl import stats

  config = _config(tmp_path, arms=("ppo", "dyna_mlp", "dyna_gcnn"))
  rng = np.random.default_rng(0)
  ppo = rng.normal(0.5, 0.05, 32)
  final = {"ppo": ppo, "dyna_mlp": ppo + rng.normal(0.0, 0.05, 32), "dyna_gcnn": ppo + 0.3}
  reach = {k: 1000.0 * (2.0 - v) for k, v in final.items()}  # higher return: fewer steps
  pairs = study.comparisons(config)
  assert pairs == [("dyna_mlp", "ppo"), ("dyna_gcnn", "ppo"), ("dyna_gcnn", "dyna_mlp")]
  text = study.finding(
    config, stats.compare(final, pairs), stats.compare(reach, pairs, censored_at=2000.0)
  )
  assert text.startswith("On Catch-v0 (2 seeds, ")
  assert "as follows: against PPO with its own settings (dyna_gcnn, dyna_mlp), ahead in 2 and " in (
    text
  )
  assert "level in 2 of 4; against the MLP world model (dyna_gcnn), ahead in 2 of 2." in text
  with pytest.raises(ValueError, match="same comparisons"):
    study.finding(config, stats.compare(final, pairs), [])


def test_learned_outcome_arms_are_counted_against_their_rule_based_twins(tmp_path):
  """`dyna_mlp_outcome - dyna_mlp` is its own group of the finding, not a comparison against
  the MLP world model: here the learned outcome is clearly worse on both measures."""
  from tf_equirl import stats

  config = _config(tmp_path, arms=("ppo", "dyna_mlp", "dyna_mlp_outcome"))
  pairs = study.comparisons(config)
  assert pairs == [("dyna_mlp", "ppo"), ("dyna_mlp_outcome", "dyna_mlp")]
  rng = np.random.default_rng(1)
  ppo = rng.normal(0.5, 0.05, 32)
  final = {"ppo": ppo, "dyna_mlp": ppo + rng.normal(0, 0.05, 32), "dyna_mlp_outcome": ppo - 0.3}
  reach = {k: 1000.0 * (2.0 - v) for k, v in final.items()}
  text = study.finding(
    config, stats.compare(final, pairs), stats.compare(reach, pairs, censored_at=2000.0)
  )
  assert "against PPO with its own settings (dyna_mlp), level in 2 of 2" in text
  assert (
    "learning the reward and termination against the environment's rules "
    "(dyna_mlp_outcome), behind in 2 of 2." in text
  )
  assert "against the MLP world model" not in text


def test_the_readme_quotes_each_finished_studys_finding():
  """Every controlled study that has run has a `Finding: ` line, and the README carries
  that line's sentence word for word (so it cannot drift from the tables)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
  for env in ("cartpole", "catch"):
    path = os.path.join(root, "results", f"dyna_controlled_{env}", "README.md")
    text = open(path, encoding="utf-8").read()
    if study.PENDING in text:
      continue
    (line,) = [x for x in text.splitlines() if x.startswith(study.FINDING_PREFIX)]
    assert line[len(study.FINDING_PREFIX) :] in readme, path
