"""tf_equirl: symmetry-exploiting reinforcement learning in TensorFlow / Keras."""

import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPyWithZoo(build_py):
  """Copies the repository's `zoo/` into the package as `tf_equirl/zoo_data/`, so wheels and
  non-editable installs load zoo models (`tf_equirl.zoo.zoo_dir`)."""

  def run(self):
    super().run()
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zoo")
    target = os.path.join(self.build_lib, "tf_equirl", "zoo_data")
    if os.path.exists(os.path.join(source, "manifest.json")):
      shutil.copytree(
        source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.tmp*")
      )


# tf-agents 0.19.0 (its last release) pins this generation: TF 2.15 with its Keras 2.15,
# tensorflow-probability 0.23 and NumPy 1.x. Newer TF ships Keras 3 and needs NumPy 2,
# both of which break tf-agents.
INSTALL_REQUIRES = [
  "tensorflow==2.15.1",
  "tf-agents==0.19.0",
  "tensorflow-probability==0.23.0",
  "numpy>=1.23,<2",
  "gymnasium>=1,<2",
  "absl-py>=1.0",
  "tqdm>=4.60",
  "matplotlib>=3.7,<4",
]

SWEEP_REQUIRES = ["ray[tune]==2.55.1", "pyarrow>=14,<20", "pandas>=2,<3", "pydantic>=1.10,<2"]

# The documentation site (mkdocs.yml): versions of one generation, checked to resolve beside
# the stack above; mkdocs-autorefs and griffe are pinned to the ones mkdocstrings 0.27 and
# mkdocstrings-python 1.13 were released with (newer ones log deprecation warnings).
DOCS_REQUIRES = [
  "mkdocs==1.6.1",
  "mkdocs-material==9.5.50",
  "mkdocstrings==0.27.0",
  "mkdocstrings-python==1.13.0",
  "mkdocs-autorefs==1.2.0",
  "griffe==1.5.5",
]

# dm_control's MuJoCo tasks (tf_equirl.envs.dmc, make("dm_control/...")): these two resolve
# beside the pinned stack without changing a package (dm_control 1.0.50 wants a newer mujoco
# than 4.0.0's bindings support).
DMC_REQUIRES = ["dm_control==1.0.47", "mujoco==3.14.0"]

setup(
  name="tf_equirl",
  version="0.1.0",
  description="Equivariant reinforcement learning for environments with symmetries "
  "(TensorFlow / Keras / tf-agents).",
  long_description=open("README.md", encoding="utf-8").read(),
  long_description_content_type="text/markdown",
  python_requires=">=3.11,<3.12",
  packages=find_packages(include=["tf_equirl", "tf_equirl.*"]),
  install_requires=INSTALL_REQUIRES,
  extras_require={
    # Same TF module with the CUDA libraries from PyPI; never mix in tensorflow-cpu.
    "gpu": ["tensorflow[and-cuda]==2.15.1"],
    # Ray Tune for tf_equirl.sweeps. Ray 2.55 resolves beside the stack with pyarrow < 20,
    # pandas < 3 and pydantic 1.x (pydantic 2 needs a typing-extensions newer than the
    # 4.5.0 that tf-agents pins).
    "sweep": SWEEP_REQUIRES,
    # pytest-xdist runs the fast tests on two processes (README, .ci/run); the dmc extra
    # lets the tests check dm_control's tasks (tests/test_envs_dmc*.py).
    "test": ["pytest>=7", "pytest-xdist>=3.5,<4"] + SWEEP_REQUIRES + DMC_REQUIRES,
    # mkdocs build --strict (.ci/run) and mkdocs serve.
    "docs": DOCS_REQUIRES,
    # dm_control's own MuJoCo tasks (tf_equirl.envs.dmc).
    "dmc": DMC_REQUIRES,
  },
  cmdclass={"build_py": BuildPyWithZoo},
  license="Apache-2.0",
)
