"""Installs that travel: a wheel installed outside the repository loads every zoo model.

The wheel is built from a copy of the source tree and installed with `pip install --no-deps
--target` into an empty folder; a fresh interpreter whose PYTHONPATH is that folder (the
dependencies come from this environment, so TensorFlow is not downloaded again) imports
tf_equirl from it, in another directory, and loads the zoo through `tf_equirl.zoo`.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

from tf_equirl import zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = textwrap.dedent("""
    import json, os, sys
    import tf_equirl
    from tf_equirl import zoo
    from tf_equirl.params import count_params
    site, expected = sys.argv[1], json.loads(sys.argv[2])
    assert os.path.dirname(os.path.dirname(tf_equirl.__file__)) == site, tf_equirl.__file__
    assert zoo.zoo_dir() == os.path.join(site, "tf_equirl", "zoo_data"), zoo.zoo_dir()
    assert zoo.list() == sorted(expected), zoo.list()
    for name in zoo.list():
        model = zoo.load(name)                  # checks the SHA-256 against the manifest
        assert count_params(model) == expected[name], (name, count_params(model))
    import tf_equirl.sweeps                      # the sweeps ship too (for Ray workers)
    print("loaded", len(zoo.list()), "zoo models from", zoo.zoo_dir())
""")


def test_wheel_installed_elsewhere_loads_every_zoo_model(tmp_path):
  source, wheels, site, elsewhere = (tmp_path / n for n in ("src", "wheels", "site", "cwd"))
  shutil.copytree(
    REPO,
    source,
    ignore=shutil.ignore_patterns(
      ".git",
      ".venv",
      "venv",
      "runs",
      "build",
      "dist",
      "data",
      "*.egg-info",
      "__pycache__",
      ".pytest_cache",
      "tf_equirl.egg-info",
    ),
  )
  pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
  subprocess.run(
    pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
    check=True,
    cwd=tmp_path,
    timeout=300,
  )
  (wheel,) = [wheels / f for f in os.listdir(wheels) if f.endswith(".whl")]
  manifest = json.load(open(os.path.join(REPO, "zoo", "manifest.json")))
  packed = set(zipfile.ZipFile(wheel).namelist())
  for entry in manifest.values():
    assert f"tf_equirl/zoo_data/{entry['file']}" in packed, entry["file"]
  subprocess.run(
    pip + ["install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
    check=True,
    cwd=tmp_path,
    timeout=300,
  )
  elsewhere.mkdir()
  env = {k: v for k, v in os.environ.items() if k != "TF_EQUIRL_ZOO"}
  env.update(PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="2")
  expected = {name: entry["params"] for name, entry in manifest.items()}
  proc = subprocess.run(
    [sys.executable, "-c", CHECK, str(site), json.dumps(expected)],
    cwd=elsewhere,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
  assert f"loaded {len(manifest)} zoo models" in proc.stdout


def test_source_tree_uses_the_repository_zoo():
  assert zoo.zoo_dir() == os.path.join(REPO, "zoo")
