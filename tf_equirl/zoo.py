"""Pretrained models: `tf_equirl.zoo.load("cartpole/gcnn_actor")`.

The zoo is the repository's `zoo/` folder (override with the environment variable
`TF_EQUIRL_ZOO`): one `.keras` file per model under `zoo/<env>/`, and `zoo/manifest.json`
with each model's environment, network, parameter count, evaluation and SHA-256. Wheels and
non-editable installs carry a copy as package data, `tf_equirl/zoo_data/` (setup.py's
`build_py`), so the zoo loads wherever the package is installed, e.g. on Ray workers. Every file
is a plain Keras model (no Lambda layers, no pickled code), so
`keras.models.load_model(path)` loads it in Keras' safe mode after `import tf_equirl`.
Actors map an observation batch to action logits; critics to values `[batch, 1]`.

Wherever a model is named by a user (launcher flags, `DynaConfig.world_model_path`),
`load_any(name_or_path)` takes it by one rule (`resolve`): an existing `.keras` file, else a
zoo name.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf

__all__ = [
  "zoo_dir",
  "list",
  "info",
  "path",
  "load",
  "load_file",
  "resolve",
  "load_any",
  "as_policy",
  "sha256",
]

_MANIFEST = "manifest.json"


PACKAGED_ZOO = "zoo_data"  # the zoo's folder inside an installed package


def zoo_dir() -> str:
  """Folder holding the zoo: `$TF_EQUIRL_ZOO`, else the installed package's `zoo_data/`,
  else the source tree's `zoo/` beside the package."""
  if os.environ.get("TF_EQUIRL_ZOO"):
    return os.environ["TF_EQUIRL_ZOO"]
  package = os.path.dirname(os.path.abspath(__file__))
  packaged = os.path.join(package, PACKAGED_ZOO)
  if os.path.exists(os.path.join(packaged, _MANIFEST)):
    return packaged
  return os.path.join(os.path.dirname(package), "zoo")


def _manifest() -> Dict[str, Dict[str, Any]]:
  file = os.path.join(zoo_dir(), _MANIFEST)
  if not os.path.exists(file):
    return {}
  try:
    with open(file) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"The zoo manifest {file} cannot be read: {e}") from e


def list() -> List[str]:  # pylint: disable=redefined-builtin
  """Names of the models in the zoo, e.g. `["cartpole/gcnn_actor", ...]`."""
  return sorted(_manifest())


def info(name: str) -> Dict[str, Any]:
  """The manifest entry (the model card's data) of `name`."""
  manifest = _manifest()
  if name not in manifest:
    available = ", ".join(sorted(manifest)) or "none (the zoo is empty)"
    raise ValueError(f"Unknown zoo model {name!r}; available models: {available}.")
  return dict(manifest[name])


def path(name: str) -> str:
  """Absolute path of the `.keras` file of `name`."""
  return os.path.join(zoo_dir(), info(name)["file"])


def sha256(file: str) -> str:
  digest = hashlib.sha256()
  with open(file, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def load(name: str, verify: bool = True) -> tf.keras.Model:
  """Loads a zoo model by name (see `list()`), checking its SHA-256 against the manifest.

  Raises:
    ValueError: for an unknown name (listing the available ones), a missing file, a file
      whose checksum does not match (truncated, corrupt or modified), or one Keras cannot
      read; the message names the file.
  """
  entry = info(name)
  file = os.path.join(zoo_dir(), entry["file"])
  if not os.path.exists(file):
    raise ValueError(f"Zoo model {name!r}: file {file} is missing.")
  if verify and entry.get("sha256") and sha256(file) != entry["sha256"]:
    raise ValueError(
      f"Zoo model {name!r}: file {file} does not match its SHA-256 in "
      f"{_MANIFEST} (truncated, corrupt or modified); regenerate it with "
      "`python -m launchers.build_zoo` or restore it from git."
    )
  return load_file(file)


def load_file(file: str) -> tf.keras.Model:
  """`keras.models.load_model(file)` with an error that names the file when it is unreadable."""
  import tf_equirl.layers  # noqa: F401  registers the layers before Keras looks them up

  if not os.path.exists(file):
    raise ValueError(f"No model file at {file}.")
  try:
    return tf.keras.models.load_model(file, compile=False)
  except Exception as e:  # Keras raises zipfile, OSError, ValueError or TypeError here
    raise ValueError(
      f"Cannot load the Keras model file {file}: it is truncated, corrupt or "
      f"not a .keras model ({type(e).__name__}: {e})."
    ) from e


def resolve(name_or_path: str) -> Tuple[str, Optional[Dict[str, Any]]]:
  """Where a model named by the user lives: `(file, None)` for an existing `.keras` file,
  `(zoo file, manifest entry)` for a zoo name; nothing is loaded.

  The one rule: an existing file whose name ends in `.keras` is that file; anything else must
  be a zoo name (see `list()`).

  Raises:
    ValueError: for anything else; the message names what was received, lists the zoo's
      models and says that a path must be an existing `.keras` file.
  """
  manifest = _manifest()
  available = ", ".join(sorted(manifest)) or "none (the zoo is empty)"
  if not isinstance(name_or_path, str) or not name_or_path:
    raise ValueError(
      "A model is a zoo name or the path of an existing .keras file, received "
      f"{name_or_path!r}; available models: {available}."
    )
  if name_or_path.endswith(".keras") and os.path.isfile(name_or_path):
    return name_or_path, None
  if name_or_path in manifest:
    entry = dict(manifest[name_or_path])
    return os.path.join(zoo_dir(), entry["file"]), entry
  if os.path.isdir(name_or_path):
    why = "it is a folder"
  elif os.path.exists(name_or_path):
    why = "its name does not end in .keras"
  else:
    why = "it does not exist"
  raise ValueError(
    f"Unknown zoo model {name_or_path!r}, and {name_or_path!r} is not an existing "
    f".keras file ({why}); available models: {available}. A path must be an "
    "existing .keras file."
  )


def load_any(name_or_path: str, verify: bool = True) -> tf.keras.Model:
  """Loads a model from a zoo name or a `.keras` path, by `resolve`'s rule: a file with
  `load_file`, a zoo name with `load` (SHA-256 checked when `verify`).

  Raises:
    ValueError: as `resolve` for a name that is neither; as `load` and `load_file` for a
      file that is missing, does not match its checksum or cannot be read (naming the file).
  """
  file, entry = resolve(name_or_path)
  return load_file(file) if entry is None else load(name_or_path, verify=verify)


def as_policy(model: tf.keras.Model, env, greedy: bool = True):
  """Wraps a logits model as a tf-agents policy for `env` (a tf-agents environment).

  `greedy=True` takes the argmax action; `greedy=False` samples from the logits (the
  result is then a policy that can be fine-tuned or used for collection).
  """
  from tf_agents.policies import actor_policy, greedy_policy

  from tf_equirl.networks import LogitsActorNetwork

  spec = env.action_spec()
  if not spec.dtype.is_integer:
    raise ValueError(
      "as_policy wraps a logits model for an environment with discrete actions; this "
      f"environment's actions are {spec.dtype.name} vectors. A continuous-control actor is "
      "deterministic: its output, clipped to [-1, 1], is the action (`model(observations)`)."
    )

  network = LogitsActorNetwork(env.observation_spec(), env.action_spec(), model)
  policy = actor_policy.ActorPolicy(
    env.time_step_spec(), env.action_spec(), actor_network=network, training=False
  )
  return greedy_policy.GreedyPolicy(policy) if greedy else policy


# ------------------------------------------------------------------ manifest and cards
EVAL_SEED = 12345  # zoo evaluation episodes never share a seed with training

_GYMNASIUM_IDS = {
  "CartPole-v1": "CartPole-v1",
  "Catch-v0": "tf_equirl/Catch-v0",
  "GridWorld-v0": "tf_equirl/GridWorld-v0",
}


def update_manifest(entries: Dict[str, Dict[str, Any]]) -> None:
  """Adds or replaces `entries` in manifest.json and rewrites the cards in zoo/README.md.

  Each entry needs `file` (relative to the zoo folder), `env`, `network`, `role`
  ("actor", "critic" or "transition"), `params`, `command`, `seed`, `total_steps`,
  `equivariance_error` (None if not equivariant by construction) and
  `equivariance_states`; the SHA-256 and size are computed here. Actors carry
  `evaluation` and `threshold`; other roles may carry `metrics` (a dict of name -> value)
  and `notes` (text).
  """
  manifest = _manifest()
  for name, entry in entries.items():
    entry = dict(entry)
    file = os.path.join(zoo_dir(), entry["file"])
    entry["sha256"], entry["bytes"] = sha256(file), os.path.getsize(file)
    manifest[name] = entry
  with open(os.path.join(zoo_dir(), _MANIFEST), "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
  with open(os.path.join(zoo_dir(), "README.md"), "w") as f:
    f.write(_readme(manifest))


def model_card(name: str, e: Dict[str, Any]) -> str:
  """The markdown card of one zoo entry."""
  lines = [
    f"### `{name}`",
    "",
    f"- environment: {e['env']}; network: {e['network']} {e['role']}"
    + (f" (trained with the {e['critic']} critic)" if e["role"] == "actor" else ""),
    f"- parameters: {e['params']}",
    f"- training: `{e['command']}` (seed {e['seed']}, {e['total_steps']:,} "
    f"{'env steps' if e['role'] != 'transition' else 'transitions x epochs'})",
  ]
  if e["role"] == "actor" and e.get("action_repeat"):  # a continuous-control actor
    ev = e["evaluation"]["tf_greedy"]
    lines.append(
      f"- evaluation ({ev['episodes']} episodes, mean +- 2 SE, seed "
      f"{e['evaluation']['seed']}): the mean action, held for {e['action_repeat']} env steps "
      f"as in training, {ev['mean']:.1f} +- {ev['two_se']:.1f} (tf_equirl env); card "
      f"threshold {e['threshold']}"
    )
  elif e["role"] == "actor":
    ev = e["evaluation"]
    fmt = lambda s: f"{s['mean']:.3f} +- {s['two_se']:.3f}"
    lines.append(
      f"- evaluation ({ev['tf_greedy']['episodes']} episodes, mean +- 2 SE, seed "
      f"{ev['seed']}): greedy {fmt(ev['tf_greedy'])}, sampled {fmt(ev['tf_sampled'])} "
      f"(tf_equirl env); greedy on gymnasium's {_GYMNASIUM_IDS[e['env']]}: "
      f"{fmt(ev['gymnasium_greedy'])}; card threshold (greedy) {e['threshold']}"
    )
  for key, value in sorted((e.get("metrics") or {}).items()):
    lines.append(f"- {key}: {value:.4g}" if isinstance(value, float) else f"- {key}: {value}")
  if e.get("equivariance_error") is None:
    lines.append("- equivariance error: not equivariant by construction")
  else:
    lines.append(
      f"- equivariance error: {e['equivariance_error']:.2e} (max over "
      f"{e['equivariance_states']:,} states and all group elements)"
    )
  if e.get("notes"):
    lines.append(f"- notes: {e['notes']}")
  lines += [f"- file: `zoo/{e['file']}`, {e['bytes'] / 1024:.0f} KiB, sha256 `{e['sha256']}`", ""]
  return "\n".join(lines)


def _readme(manifest: Dict[str, Dict[str, Any]]) -> str:
  text = [
    "# tf_equirl model zoo",
    "",
    "Pretrained models. Load one in one line (Keras safe mode, no custom_objects):",
    "",
    "```python",
    "import tf_equirl, tensorflow as tf",
    'actor = tf.keras.models.load_model("zoo/cartpole/gcnn_actor.keras")   # or:',
    'actor = tf_equirl.zoo.load("cartpole/gcnn_actor")                      # checks the SHA-256',
    "logits = actor(observations)                     # [batch, 4] -> [batch, 2]",
    "```",
    "",
    "`tf_equirl.zoo.as_policy(actor, env)` wraps an actor as a tf-agents policy; "
    "`python -m launchers.evaluate --model=cartpole/gcnn_actor --backend=gymnasium "
    "--render=cartpole.gif` evaluates and animates it.",
    "",
    "Regenerate the actors and critics with `python -m launchers.build_zoo`: it trains each "
    "entry with the command on its card, keeps the first seed whose greedy evaluation "
    "reaches the card's threshold, and rewrites manifest.json and this file. Evaluation "
    f"episodes use seed {EVAL_SEED}, never a training seed. The transition models "
    "(`*_transition`, inputs `[observation, action]`, output the predicted next "
    "observation or, for Catch, ball-cell and paddle-column logits) come from "
    "`python -m launchers.make_transition_data --env=ENV --seed=0` and "
    "`python -m launchers.analyze_transition --env=ENV ... --zoo` (the command is on each "
    "card; see results/transition_cartpole/README.md).",
    "",
    "## Cards",
    "",
  ]
  text += [model_card(name, manifest[name]) for name in sorted(manifest)]
  return "\n".join(text)
