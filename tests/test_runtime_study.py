"""The XLA runtime study (`tf_equirl.experiments.runtime_study`): its report names the runtime
each run records, counts the seeds whose columns differ between the runtimes (equal columns
mean the newer runtime did not run) and compares the statistics; bad configs are named."""

import json
import os

import numpy as np
import pytest

from tf_equirl import results
from tf_equirl.experiments import runtime_study


def test_config_names_what_is_wrong():
  with pytest.raises(ValueError, match="Pong"):
    runtime_study.RuntimeStudyConfig(envs=("Pong",))
  with pytest.raises(ValueError, match="RuntimeStudyConfig.seeds must be an int of at least 2"):
    runtime_study.RuntimeStudyConfig(seeds=1)
  with pytest.raises(ValueError, match="unknown actor"):
    runtime_study.RuntimeStudyConfig(networks=("transformer",))
  with pytest.raises(ValueError, match=r"RuntimeStudyConfig.networks must name at least one"):
    runtime_study.RuntimeStudyConfig(networks=())
  with pytest.raises(ValueError, match=r"RuntimeStudyConfig.envs must name at least one"):
    runtime_study.RuntimeStudyConfig(envs=())
  config = runtime_study.RuntimeStudyConfig(seeds=4, total_steps=2048)
  with pytest.raises(ValueError, match="runtime must be"):
    runtime_study.runtime_flags(config, "Catch-v0", "jit")
  classic = runtime_study.runtime_flags(config, "Catch-v0", "classic")
  newer = runtime_study.runtime_flags(config, "Catch-v0", "xla_runtime")
  assert "--noxla_runtime" in classic and "--xla_runtime" in newer
  assert "--total_steps=2048" in classic and "--seeds=4" in newer
  # the two runtimes train into separate folders
  assert {f for f in classic if f.startswith("--runs=")} != {
    f for f in newer if f.startswith("--runs=")
  }


def _write_run(folder, recorded, curves, losses):
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "run.json"), "w") as f:
    json.dump({"xla_cpu_runtime": recorded}, f)
  steps = np.arange(1, curves.shape[1] + 1) * 512
  for s, (curve, loss) in enumerate(zip(curves, losses)):
    results.write_seed_csv(
      os.path.join(folder, f"seed_{s}.csv"),
      {
        "env_steps": steps,
        "mean_return": curve,
        "policy_loss": loss,
        "value_loss": loss,
        "entropy": loss,
        "grad_norm": loss,
      },
    )


def test_report_names_the_runtimes_counts_differing_seeds_and_compares(tmp_path):
  config = runtime_study.RuntimeStudyConfig(
    envs=("Catch-v0",),
    networks=("mlp", "gcnn"),
    seeds=6,
    checkpoints=(1024, 4096),
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "results" / "README.md"),
  )
  rng = np.random.default_rng(0)
  curves = rng.uniform(-1, 1, (6, 8))
  losses = rng.normal(size=(6, 8))
  for spec in ("mlp", "gcnn"):
    _write_run(os.path.join(config.runs, "classic", "Catch-v0", spec), "classic", curves, losses)
  # mlp: the "newer" run is the classic one again (a silent fallback); gcnn: every seed
  # rounds differently and learns much better
  _write_run(os.path.join(config.runs, "xla_runtime", "Catch-v0", "mlp"), "classic", curves, losses)
  _write_run(
    os.path.join(config.runs, "xla_runtime", "Catch-v0", "gcnn"),
    "xla_runtime",
    curves + 1.0,
    losses + 1e-3,
  )
  text = open(runtime_study.write_report(config)).read()
  assert "| Catch-v0 | mlp | classic | classic | 0 of 6 | 0 |" in text
  assert "| Catch-v0 | gcnn | classic | xla_runtime | 6 of 6 | 0.001 |" in text
  assert "gcnn, xla_runtime (4,096 steps) beats gcnn, classic (4,096 steps)" in text
  assert "mlp, xla_runtime (1,024 steps) - mlp, classic (1,024 steps)" in text
