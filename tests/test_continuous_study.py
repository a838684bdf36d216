"""The continuous-control study's settings: state and pixel grids, their arms and errors (the
study runs end to end in `tests/test_reproduce_all.py`'s quick runs)."""

import pytest

from tf_equirl.experiments import continuous_study as study


def _grid(**overrides):
  base = dict(
    env="CartPoleSwingup-v0", variants=(("reflect", 1.0),), seeds=2, total_steps=100, eval_every=50
  )
  base.update(overrides)
  return study.ContinuousGrid(**base)


def test_a_pixel_grid_trains_each_encoder_with_the_heads_of_its_kind():
  grid = _grid(observation="pixels", overrides=dict(image_size=37, frame_stack=3))
  assert grid.arms == study.PIXEL_NETWORKS == ("cnn", "gcnn", "relaxed", "rpp")
  heads = {}
  for arm in grid.arms:
    config = grid.config("CartPoleSwingup-v0:reflect:1", arm)
    assert (config.observation, config.encoder, config.image_size) == ("pixels", arm, 37)
    heads[arm] = config.head_kind
  assert heads == {"cnn": "mlp", "gcnn": "gcnn", "relaxed": "relaxed", "rpp": "rpp"}
  # The CartPole test-time noise of the seed applies to the pictures as well.
  assert grid.config("CartPoleSwingup-v0", "cnn").final_obs_noise == pytest.approx(0.06)


def test_a_state_grid_keeps_the_actor_critic_kinds():
  grid = _grid()
  assert grid.arms == study.NETWORKS
  config = grid.config("CartPoleSwingup-v0", "relaxed")
  assert (config.observation, config.network) == ("state", "relaxed")


def test_pixel_comparisons_set_the_cnn_where_states_set_the_mlp():
  assert ("gcnn", "cnn") in study.PAIRS and ("gcnn", "mlp") in study.PAIRS


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(observation="rgb"), "observation must be 'state' or 'pixels'"),
    (dict(overrides=dict(observation="pixels")), "may not set 'observation'"),
    (dict(variants=(("wobble", 1.0),)), "wobble"),
    (dict(sweep=(("wobble", 0.5),)), "wobble"),
    (dict(sweep=(("reflect", 0.0),)), "needs a strength above 0"),
    (dict(sweep=(("reflect", 1.0),)), "already one of the variants"),
    (dict(sweep=(("reflect", 0.5), ("reflect", 0.5))), "names a variant twice"),
    (dict(sweep=(("reflect", 0.5),), sweep_seeds=3), "sweep_seeds must be at most seeds"),
    (dict(sweep=(("reflect", 0.5),), sweep_seeds=0), "sweep_seeds"),
    (dict(sweep=(("reflect", 0.5),), sweep_networks=("cnn",)), "sweep_networks must be arms"),
    (dict(xla_flags=("xla_cpu_multi_thread_eigen=false",)), "is not an XLA flag"),
    (dict(xla_flags=("--xla_cpu_multi_thread_eigen",)), "expected '--name=value'"),
    (dict(xla_flags=("--xla_a=1", "--xla_a=2")), "sets a flag twice"),
  ],
)
def test_bad_grids_are_named(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _grid(**kwargs)


def test_state_arms_on_a_pixel_grid_are_refused():
  grid = _grid(observation="pixels", overrides=dict(image_size=37))
  with pytest.raises(ValueError, match="trains pixel encoders"):
    study.ContinuousSpec(grids=(grid,), runs="r", report="r/README.md", networks=("mlp",))
  spec = study.ContinuousSpec(
    grids=(grid,), runs="r", report="r/README.md", networks=study.PIXEL_NETWORKS
  )
  assert spec.observation == "pixels"
  assert study.ContinuousSpec(grids=(_grid(),), runs="r", report="x").observation == "state"


def test_a_study_with_xla_flags_trains_only_in_a_process_that_has_them(tmp_path, monkeypatch):
  """XLA reads its flags once per process and they change how the runs round: a study that
  declares flags refuses to train without them, names them and the command that sets them,
  and trains nothing; with every run finished it writes its report anyway (training nothing)."""
  grid = _grid(seeds=1, xla_flags=study.SINGLE_THREADED_PRODUCTS)
  spec = study.ContinuousSpec(
    grids=(grid,),
    networks=("mlp",),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "README.md"),
    command="python -m launchers.reproduce_all --only=continuous_swingup",
  )
  assert spec.xla_flags == ("--xla_cpu_multi_thread_eigen=false",)
  assert "Compiled with XLA_FLAGS `--xla_cpu_multi_thread_eigen=false`" in study.declaration(spec)
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true --xla_other=1")
  assert study.missing_xla_flags(spec.xla_flags) == ["--xla_cpu_multi_thread_eigen=false"]
  with pytest.raises(ValueError) as error:
    study.run(spec)
  message = str(error.value)
  assert "lacks '--xla_cpu_multi_thread_eigen=false'" in message
  assert "2 cells (first: mlp on CartPoleSwingup-v0)" in message
  assert "`python -m launchers.reproduce_all --only=continuous_swingup`" in message
  assert not (tmp_path / "runs").exists() and not (tmp_path / "README.md").exists()
  # With the flag among others, the process may train.
  monkeypatch.setenv("XLA_FLAGS", "--xla_other=1 --xla_cpu_multi_thread_eigen=false")
  assert study.missing_xla_flags(spec.xla_flags) == []
  study._check_xla_flags(spec)
  # Without it but with every run finished: the report reads records only.
  monkeypatch.delenv("XLA_FLAGS")
  for variant in ("CartPoleSwingup-v0", "CartPoleSwingup-v0:reflect:1"):
    _finish_seed(spec, variant, "mlp", 0, final=100.0)
  study._check_xla_flags(spec)
  # Grids of one study must agree on each flag, since one process trains them all.
  other = _grid(env="Pendulum-v1", xla_flags=("--xla_cpu_multi_thread_eigen=true",))
  clash = study.ContinuousSpec(grids=(grid, other), runs="r", report="r/README.md")
  with pytest.raises(ValueError, match="set --xla_cpu_multi_thread_eigen to different values"):
    clash.xla_flags


def test_the_tasks_after_pendulum_train_with_single_threaded_products(tmp_path):
  """The Pendulum and pixel studies trained with XLA's defaults and keep them (their records
  round so); the swing-up, Acrobot and Reacher studies declare single-threaded products."""
  from tf_equirl.experiments import registry

  flags = {
    name: registry.get(name).xla_flags(
      registry.full_config(name, str(tmp_path / "results"), str(tmp_path / "runs"))
    )
    for name in registry.names()
    if name.startswith("continuous_")
  }
  assert flags == {
    "continuous_pendulum": (),
    "continuous_swingup": study.SINGLE_THREADED_PRODUCTS,
    "continuous_acrobot": study.SINGLE_THREADED_PRODUCTS,
    "continuous_reacher": study.SINGLE_THREADED_PRODUCTS,
    "continuous_pixels": (),
  }
  # No quick grid declares any: they train as graphs without XLA.
  for name in flags:
    quick = registry.get(name).quick(
      registry.Target(str(tmp_path / "q"), str(tmp_path / "qr"), "python -m x")
    )
    assert quick.xla_flags == ()


def test_the_pixel_figures_the_docs_quote_are_those_of_the_benchmark_file():
  """docs/continuous_control.md quotes the XLA and graph rows of results/pixel_throughput."""
  import os
  import re

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  with open(os.path.join(repo, "results", "pixel_throughput", "README.md"), encoding="utf-8") as f:
    rows = {
      (m.group(1), m.group(2)): (m.group(3), m.group(4))
      for m in re.finditer(
        r"^\| (\w+) \| (graph|XLA) \| [^|]+\| ([\d.]+) \| ([\d.]+) \|$", f.read(), re.M
      )
    }
  with open(os.path.join(repo, "docs", "continuous_control.md"), encoding="utf-8") as f:
    docs = " ".join(f.read().split())
  xla_compile, xla_rate = rows[("cnn", "XLA")]
  graph_compile, graph_rate = rows[("cnn", "graph")]
  quoted = (
    f"trains at {xla_rate} frames/s with XLA against {graph_rate} as a graph, and compiles in "
    f"{xla_compile} s against {graph_compile} s"
  )
  assert quoted in docs, quoted


def test_the_declaration_names_each_comparison_once_per_variant(tmp_path):
  spec = study.ContinuousSpec(
    grids=(_grid(variants=(("reflect", 1.0), ("repeat", 1.0))),),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "out" / "README.md"),
    networks=("gcnn", "relaxed", "rpp"),
  )
  text = study.declaration(spec)
  rows = [line for line in text.splitlines() if line.startswith("| ") and " - " in line]
  # relaxed - gcnn and relaxed - rpp on the original and both variants; no mlp, so no gcnn - mlp
  assert len(rows) == 6, rows
  assert "| relaxed on CartPoleSwingup-v0:repeat:1 - rpp on CartPoleSwingup-v0:repeat:1 |" in rows
  assert "| relaxed on CartPoleSwingup-v0 - gcnn on CartPoleSwingup-v0 |" in rows
  assert not any("mlp" in row for row in rows)
  assert "seeds 0-1 for every arm" in text and "100 env steps per run" in text


def test_a_declaration_without_a_declared_pair_says_so_rather_than_an_empty_table(tmp_path):
  spec = study.ContinuousSpec(
    grids=(_grid(),),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "out" / "README.md"),
    networks=("mlp", "relaxed"),
  )
  text = study.declaration(spec)
  assert "| comparison |" not in text
  assert "- Comparisons: none; no two of these arms form a declared pair (relaxed - gcnn" in text


def test_a_declared_report_reads_as_declared_in_the_index(tmp_path):
  from tf_equirl.experiments import registry

  spec = study.ContinuousSpec(
    grids=(_grid(),), runs=str(tmp_path / "runs"), report=str(tmp_path / "out" / "README.md")
  )
  path = study.declare(spec)
  with open(path, encoding="utf-8") as f:
    text = f.read()
  assert study.declaration(spec) in text and study.PENDING in text
  assert registry.status(path, "cmd").startswith("declared, not run yet")


def test_committed_continuous_declarations_are_those_the_registry_declares(tmp_path):
  """Each continuous-control study folder holds the declaration its registry entry writes
  now: alone while the study has not run, at the top of its results once it has (a smoke run,
  `--quick`, declares its own tiny grid)."""
  import os

  from tf_equirl import provenance
  from tf_equirl.experiments import registry

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  names = [n for n in registry.names() if n.startswith("continuous_")]
  assert names == [
    "continuous_pendulum",
    "continuous_swingup",
    "continuous_acrobot",
    "continuous_reacher",
    "continuous_pixels",
  ]
  checked = 0
  for name in names:
    committed = os.path.join(repo, "results", name, "README.md")
    with open(committed, encoding="utf-8") as f:
      text = f.read()
    made = provenance.read(committed)
    spec = registry.full_config(name, str(tmp_path / "results"), str(tmp_path / "runs"))
    if made is None:  # declared, not run: the whole file is the declaration
      with open(study.declare(spec), encoding="utf-8") as f:
        assert text == f.read(), f"results/{name}: run reproduce_continuous --declare_only"
    elif "--quick" in made.command:
      continue
    else:  # run at full budget: the results start with the registry's declaration
      assert study.declaration(spec) in text, f"results/{name}: declared otherwise than run"
    checked += 1
  assert checked >= 4


def test_the_docs_count_the_runs_and_env_steps_the_registry_declares(tmp_path):
  import os

  from tf_equirl.experiments import registry

  names = ("continuous_pendulum", "continuous_swingup", "continuous_acrobot", "continuous_reacher")
  count = steps = 0
  for name in names:
    spec = registry.full_config(name, str(tmp_path / "results"), str(tmp_path / "runs"))
    (grid,) = spec.grids  # one task per study
    runs = sum(r.seeds for r in study.progress(spec))  # every cell, the sweep's included
    count, steps = count + runs, steps + runs * grid.total_steps
  with open(os.path.join(registry.REPO, "docs", "continuous_control.md"), encoding="utf-8") as f:
    text = " ".join(f.read().split())
  assert f"The four studies are {count} runs and {steps / 1e6:.0f} million env steps" in text


def test_a_seed_analysis_is_read_from_its_record_or_named_missing(tmp_path):
  import json

  import numpy as np

  out = tmp_path / "arm"
  (out / "seed_0").mkdir(parents=True)
  (out / "run.json").write_text(json.dumps({"seeds": {"0": {"fingerprint": "f0"}}}))
  samples = (np.zeros((3, 2), np.float32), np.ones((3, 1), np.float32))
  record = {"lipschitz": 1.5, "gap_mean": 0.0, "gap_max": 0.0, "spreads": {}}
  analysis = out / "seed_0" / study.ANALYSIS_FILE
  analysis.write_text(
    json.dumps(
      dict(
        record, fingerprint="f0", samples=study._samples_key(samples), code=study.analysis_version()
      )
    )
  )
  got = study._seed_analysis(str(out), 0, None, samples, pixels=False)
  assert {k: got[k] for k in record} == record  # no model was needed
  # Measured for another run of the seed, or on other samples: measured again from the models,
  # which are not there.
  for fingerprint, other in (("f1", samples), ("f0", (samples[0] + 1, samples[1]))):
    (out / "run.json").write_text(json.dumps({"seeds": {"0": {"fingerprint": fingerprint}}}))
    with pytest.raises(FileNotFoundError, match="neither its analysis"):
      study._seed_analysis(str(out), 0, None, other, pixels=False)
  # Measured by other code (the measurement changed since): measured again as well.
  (out / "run.json").write_text(json.dumps({"seeds": {"0": {"fingerprint": "f0"}}}))
  analysis.write_text(
    json.dumps(dict(record, fingerprint="f0", samples=study._samples_key(samples), code="old"))
  )
  with pytest.raises(FileNotFoundError, match="by this code"):
    study._seed_analysis(str(out), 0, None, samples, pixels=False)


def test_the_measuring_codes_version_covers_what_measure_seed_imports():
  from tf_equirl import runs

  closure = runs.import_closure(("tf_equirl.experiments.symmetry_gap",))
  assert {"tf_equirl.experiments.symmetry_gap", "tf_equirl.testing"} <= set(closure)
  assert "tf_equirl.experiments.continuous_study" not in closure  # the report's wording
  assert study.analysis_version() == runs.modules_hash(closure)


def test_the_shared_pixel_encoder_stands_once_in_the_spread_table():
  spreads = {
    "actor/conv_1": [0.1, 0.2],
    "actor/hidden": [0.3, 0.4],
    "critic/conv_1": [0.1, 0.2],
    "critic/q1_conv": [0.5, 0.6],
    # the same name in both with other values: two layers, kept apart
    "actor/trunk": [0.7, 0.8],
    "critic/trunk": [0.7, 0.9],
  }
  merged = study._merge_shared_encoder(spreads)
  assert list(merged) == [
    "encoder/conv_1",
    "actor/hidden",
    "critic/q1_conv",
    "actor/trunk",
    "critic/trunk",
  ]
  assert merged["encoder/conv_1"] == [0.1, 0.2]
  assert study._merge_shared_encoder({}) == {}


def test_progress_counts_the_seeds_the_study_would_reuse(tmp_path):
  import json

  from tf_equirl import runs

  spec = study.ContinuousSpec(
    grids=(_grid(seeds=3),),
    networks=("mlp", "gcnn"),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "README.md"),
  )
  variant = "CartPoleSwingup-v0:reflect:1"
  config = spec.grids[0].config(variant, "mlp")
  out = tmp_path / "runs" / "CartPoleSwingup-v0_reflect_1" / "mlp"
  out.mkdir(parents=True)
  entries = {
    # this config and code, curve there: reused
    "0": {"status": "finished", "fingerprint": runs.seed_fingerprint(config, 0)},
    # another code version: trained again
    "1": {"status": "finished", "fingerprint": runs.seed_fingerprint(config, 1, "0" * 16)},
    # running when the process stopped: neither
    "2": {"status": "running", "fingerprint": runs.seed_fingerprint(config, 2)},
  }
  (out / "run.json").write_text(json.dumps({"seeds": entries}))
  (out / "seed_0.csv").write_text("env_steps\n")
  rows = {(r.variant, r.network): r for r in study.progress(spec)}
  assert len(rows) == 4  # the original and the variant, two arms each
  row = rows[(variant, "mlp")]
  assert (row.seeds, row.finished, row.stale) == (3, (0,), (1,))
  assert rows[("CartPoleSwingup-v0", "gcnn")].finished == ()
  # A finished entry whose curve is missing is not reused either.
  (out / "seed_0.csv").unlink()
  assert study.progress(spec)[2].stale == (0, 1)
  text = study.format_progress(spec, study.progress(spec))
  assert "| CartPoleSwingup-v0:reflect:1 | mlp | 0/3 | none | 0-1 |" in text
  assert text.endswith("0 of 12 runs finished; 2 stale (trained again).")
  (out / "run.json").write_text("{not json")
  with pytest.raises(ValueError, match="not a readable run record"):
    study.progress(spec)
  (out / "run.json").write_text("[]")
  with pytest.raises(ValueError, match="no 'seeds' mapping"):
    study.progress(spec)


def _finish_seed(spec, variant, network, seed, final, spreads=None):
  """Writes what a finished seed leaves in its run folder (the run records): its `run.json`
  entry, curve, final evaluation and analysis."""
  import json

  from tf_equirl import runs

  grid = spec.grids[0]
  config = grid.config(variant, network)
  out = study._arm_folder(spec, variant, network)
  (tmp := __import__("pathlib").Path(out) / f"seed_{seed}").mkdir(parents=True, exist_ok=True)
  record_path = __import__("pathlib").Path(out) / "run.json"
  record = json.loads(record_path.read_text()) if record_path.exists() else {"seeds": {}}
  record["seeds"][str(seed)] = {
    "status": "finished",
    "fingerprint": runs.seed_fingerprint(config, seed),
  }
  record_path.write_text(json.dumps(record))
  steps = range(0, grid.total_steps + 1, grid.eval_every)
  rows = "".join(f"{s},{final * s / grid.total_steps}\n" for s in steps)
  (record_path.parent / f"seed_{seed}.csv").write_text("env_steps,eval_return\n" + rows)
  (record_path.parent / f"seed_{seed}_final.json").write_text(
    json.dumps({"clean": [final, final + 2.0], "noisy": [final - 1.0, final - 3.0]})
  )
  samples, _ = study._analysis_samples(spec, grid, variant)
  analysis = {
    "lipschitz": 2.0,
    "gap_mean": 0.25,
    "gap_max": 0.5,
    "spreads": spreads or {},
    "fingerprint": runs.seed_fingerprint(config, seed),
    "samples": study._samples_key(samples),
    "code": study.analysis_version(),
  }
  (tmp / study.ANALYSIS_FILE).write_text(json.dumps(analysis))


def test_an_interim_report_holds_the_finished_cells_and_names_the_comparisons_to_come(
  tmp_path, monkeypatch
):
  from tf_equirl import stats

  spec = study.ContinuousSpec(
    grids=(_grid(seeds=3),),
    networks=("mlp", "gcnn"),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "results" / "README.md"),
    gap_envs=8,
    gap_steps=4,
  )
  original, reflect = "CartPoleSwingup-v0", "CartPoleSwingup-v0:reflect:1"

  def trains(*args, **kwargs):
    raise AssertionError("an interim report trains nothing")

  monkeypatch.setattr(study, "run_ac_experiment", trains)
  text = open(study.interim(spec)).read()  # nothing has finished yet
  assert "0 of 12 runs of this grid have finished" in text and "| variant |" not in text
  mlp = {0: 100.0, 1: 120.0, 2: 90.0}
  gcnn = {0: 300.0, 1: 330.0, 2: 310.0}
  for seed in range(3):
    _finish_seed(spec, original, "mlp", seed, mlp[seed])
  # One cell: no pair can be made yet; each comparisons section still stands, under its
  # heading (the noisy one with its preface first), and names every pair to come.
  text = open(study.interim(spec)).read()
  declared = text.split("### CartPoleSwingup-v0: comparisons\n")[1].split("###")[0]
  assert declared.lstrip().startswith("No comparison yet: every pair has an arm still training.")
  assert (
    "Still to come (an arm still training; p = 1 in Holm's correction over the family, when "
    f"its first pair is made): gcnn on {original} - mlp on {original}, gcnn on {reflect} - "
    f"mlp on {reflect}." in declared
  )
  noisy = text.split("the same comparisons on the noisy final return (exploratory)\n")[1]
  noisy = noisy.split("###")[0].strip().split("\n\n")
  assert noisy[0].startswith("Not declared") and noisy[1].startswith("No comparison yet")
  assert noisy[2].startswith("Still to come (p = 1 in Holm's correction over the family")
  for seed in range(3):
    _finish_seed(spec, original, "gcnn", seed, gcnn[seed])
    _finish_seed(spec, reflect, "mlp", seed, 50.0 + seed)
  _finish_seed(spec, reflect, "gcnn", 0, 70.0)  # seeds 1 and 2 still training
  text = open(study.interim(spec)).read()
  assert text.startswith("# Continuous control") and study.declaration(spec) in text
  assert "10 of 12 runs of this grid have finished" in text
  assert "the 3 of 4 cells (variant and arm) whose 3 seeds have all finished" in text
  rows = [line for line in text.splitlines() if line.startswith(f"| {original} |")]
  rows += [line for line in text.splitlines() if line.startswith(f"| {reflect} |")]
  cells = {tuple(line.split(" | ")[:2]) for line in rows if "+-" in line.split(" | ")[2]}
  assert cells == {(f"| {original}", "mlp"), (f"| {original}", "gcnn"), (f"| {reflect}", "mlp")}
  # The final column: each seed's mean final return (final + 1), mean +- SE over seeds.
  assert f"| {original} | gcnn | 313.3 +- 8.8 | 314.3 +- 8.8 |" in text
  # The comparison made, Holm-corrected over the declared 2 with the one to come at p = 1.
  finals = {n: [v[s] + 1.0 for s in range(3)] for n, v in (("mlp", mlp), ("gcnn", gcnn))}
  alone = stats.difference_of_means(finals["gcnn"], finals["mlp"], range(3), range(3))
  expected = stats.holm([alone.p_holm, 1.0])[0]
  made = text.split("### CartPoleSwingup-v0: comparisons")[1].split("###")[0]
  lines = [x for x in made.splitlines() if x.startswith("| gcnn on ") and "paired" in x]
  assert len(lines) == 1 and lines[0].startswith(f"| gcnn on {original} - mlp on {original} |")
  assert f"| {expected:.3g} |" in lines[0] and lines[0].endswith(f"beats mlp on {original} |")
  assert (
    "Still to come (an arm still training; p = 1 in Holm's correction above): "
    f"gcnn on {reflect} - mlp on {reflect}." in text
  )
  # Simultaneous intervals: Bonferroni over the 2 declared pairs (the one to come counts),
  # the bootstrap's interval at 97.5 %.
  level = stats.difference_of_means(
    finals["gcnn"], finals["mlp"], range(3), range(3), confidence=0.975, seed=0
  )
  assert "at level 97.5 % (Bonferroni over the 2 declared comparisons)" in made
  row = f"| gcnn on {original} - mlp on {original} | {level.difference:.3g} | "
  row += f"[{level.ci_low:.3g}, {level.ci_high:.3g}] | no |"
  assert row in made.splitlines(), made
  wider = stats.difference_of_means(finals["gcnn"], finals["mlp"], range(3), range(3), seed=0)
  assert level.ci_low <= wider.ci_low and level.ci_high >= wider.ci_high
  # The declared pairs again on the noisy final return (each seed's mean, final - 2): an
  # exploratory family of its own, here the same differences, so the same p.
  noisy = text.split("### CartPoleSwingup-v0: the same comparisons on the noisy final return")
  assert len(noisy) == 2 and "Not declared" in noisy[1].split("###")[0]
  lines = [x for x in noisy[1].splitlines() if x.startswith("| gcnn on ")]
  assert len(lines) == 1 and f"| {expected:.3g} |" in lines[0]
  assert "continuous_cartpoleswingup.png" in text and (tmp_path / "results").is_dir()


def test_a_strength_sweep_trains_its_arms_only_and_reports_them_against_strength(
  tmp_path, monkeypatch
):
  spec = study.ContinuousSpec(
    grids=(_grid(seeds=3, sweep=(("reflect", 0.5),), sweep_seeds=2),),
    networks=("gcnn", "relaxed"),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "results" / "README.md"),
    gap_envs=8,
    gap_steps=4,
  )
  grid = spec.grids[0]
  original, half, full = (
    "CartPoleSwingup-v0",
    "CartPoleSwingup-v0:reflect:0.5",
    "CartPoleSwingup-v0:reflect:1",
  )
  assert grid.sweep_strengths() == {"reflect": [(0.0, original), (0.5, half), (1.0, full)]}
  cells = {(r.variant, r.network): r.seeds for r in study.progress(spec)}
  # every arm on the original and the variant (3 seeds), the relaxed arm alone at 0.5 (2)
  assert cells == {
    (original, "gcnn"): 3,
    (original, "relaxed"): 3,
    (full, "gcnn"): 3,
    (full, "relaxed"): 3,
    (half, "relaxed"): 2,
  }
  declared = study.declaration(spec)
  assert f"Strength sweep (descriptive, no comparisons): {half}; arms relaxed; seeds 0-1." in (
    declared
  )
  assert half not in declared.split("| comparison |")[1]  # no comparison is declared on it

  def trains(*args, **kwargs):
    raise AssertionError("an interim report trains nothing")

  monkeypatch.setattr(study, "run_ac_experiment", trains)
  # The relaxed arm's spread grows with the strength; seed 2 (outside the sweep's seeds)
  # would change every mean were it read.
  spread = {original: 0.0, half: 0.1, full: 0.3}
  for variant, seeds in ((original, 3), (full, 3), (half, 2)):
    for seed in range(seeds):
      extra = 100.0 if seed == 2 else 0.0
      value = {"actor/lift": spread[variant] + 0.02 * seed + extra}
      _finish_seed(spec, variant, "relaxed", seed, 10.0 * seed + extra, spreads=value)
      if variant != half:
        _finish_seed(spec, variant, "gcnn", seed, 5.0 * seed)
  text = open(study.interim(spec)).read()
  assert "**Interim report.** 14 of 14 runs" in text
  section = text.split("### CartPoleSwingup-v0: against breaking strength")[1]
  assert "on seeds 0-1" in section and "#### reflect" in section
  rows = [line for line in section.splitlines() if line.startswith("| ") and "relaxed" in line]
  # final: each seed's mean final return (final + 1) over seeds 0 and 1: 1 and 11
  finals = [line.split(" | ")[:3] for line in rows[:3]]
  assert finals == [[f"| {s}", "relaxed", "6.0 +- 5.0"] for s in ("0", "0.5", "1")]
  # the spread per strength: mean +- std over seeds 0 and 1
  assert rows[3] == "| relaxed | actor/lift | 0.01 +- 0.01 | 0.11 +- 0.01 | 0.31 +- 0.01 |"
  assert "continuous_cartpoleswingup_strength.png" in section
  assert (tmp_path / "results" / "continuous_cartpoleswingup_strength.png").is_file()
  # The declared comparisons are those without the sweep; the sweep's cell is in no table
  # above its own section.
  above = text.split("### CartPoleSwingup-v0: against breaking strength")[0]
  assert half not in above.split("\n## CartPoleSwingup-v0\n")[1]


@pytest.mark.slow
def test_each_committed_report_of_records_is_what_its_command_makes_from_them(tmp_path):
  """A results file made from committed records (`results/<study>/records`) is regenerated
  from them here, and nothing differs but the provenance line (date, machine, wall time): an
  interim report (`--interim`) from the cells that have finished, a complete one from every
  seed, training nothing. A complete study's records must be those of this code (every seed
  finished with its fingerprint); where the code that trains has changed, the study is run
  again rather than regenerated here."""
  import glob
  import os
  import shlex
  import shutil

  from tf_equirl import provenance
  from tf_equirl import runs as runs_lib
  from tf_equirl.experiments import registry

  checked = []
  for path in sorted(glob.glob(os.path.join(registry.REPO, "results", "*", "README.md"))):
    record = provenance.read(path)
    name = os.path.basename(os.path.dirname(path))
    if record is None:
      continue
    words = shlex.split(record.command)
    interim = "--interim" in words
    committed = os.path.join("results", name, "records")
    if interim:
      flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)
      assert set(flags) == {"only", "import_records"}, record.command
      assert flags["only"] == name, record.command
      committed = flags["import_records"]
    elif (
      not name.startswith("continuous_")
      or "--quick" in words
      or not os.path.isdir(os.path.join(registry.REPO, committed))
    ):
      continue
    runs = str(tmp_path / name / "runs")
    runs_lib.copy_records(os.path.join(registry.REPO, committed), f"{runs}/{name}")
    if not interim:  # nothing may train: every seed must be a finished one of this code
      spec = registry.full_config(name, str(tmp_path / name / "results"), runs)
      rows = study.progress(spec)
      missing = [f"{r.variant}/{r.network}" for r in rows if len(r.finished) != r.seeds]
      assert not missing, (
        f"{path}: the records of {', '.join(missing)} are not every seed finished by this "
        f"code; run `{record.command}` again"
      )
    # The committed file's hand-written notes survive regeneration (`results.kept_notes`), as
    # they do when its command runs in the repository.
    os.makedirs(tmp_path / name / "results" / name)
    shutil.copy(path, tmp_path / name / "results" / name / "README.md")
    made = registry.run_study(
      name,
      root=str(tmp_path / name / "results"),
      runs=runs,
      command=record.command,
      interim=interim,
    )
    with open(path, encoding="utf-8") as f, open(made, encoding="utf-8") as g:
      assert registry.strip_header(g.read()) == registry.strip_header(
        f.read()
      ), f"{path}: regenerate it from {committed} (docs/continuous_control.md)"
    checked.append(name)
  assert checked  # the Pendulum and pixel studies' results files are made from records


def test_an_interim_comparisons_section_before_any_pair_names_the_pairs_left_out():
  """With no pair made yet, the section still names a pair left out for want of 2 finite
  per-seed values, apart from the pairs still to come."""
  import numpy as np

  text = study._interim_comparisons(
    {"a": np.array([1.0]), "b": np.array([2.0, 3.0])},
    [("a", "b"), ("c", "b")],
    {"a": [0], "b": [0, 1]},
    "### H",
    "x",
  )
  parts = text.strip().split("\n\n")
  assert parts[0] == "### H"
  assert parts[1] == "No comparison yet: every other pair has an arm still training."
  assert parts[2] == "Left out (fewer than 2 finite per-seed values): a - b."
  assert parts[3].startswith("Still to come (p = 1 in Holm's correction over the family")
  assert parts[3].endswith(": c - b.")
