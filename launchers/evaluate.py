"""Evaluate a zoo model or a saved actor: `python -m launchers.evaluate --model=cartpole/gcnn_actor`.

  python -m launchers.evaluate --model=cartpole/gcnn_actor --episodes=100 --backend=gymnasium
  python -m launchers.evaluate --model=runs/CartPole-v1_gcnn/seed_0/actor.keras --env=CartPole-v1
  python -m launchers.evaluate --model=catch/gcnn_actor --render=catch.gif

Prints the mean episodic return +- 2 standard errors, greedy (argmax) or sampled.
"""

from absl import app, flags

from tf_equirl import evaluation, results, zoo

_MODEL = flags.DEFINE_string(
  "model",
  "cartpole/gcnn_actor",
  "Zoo name (see --list) or path " "to a .keras actor (observation batch -> logits).",
)
_ENV = flags.DEFINE_enum(
  "env", None, ["CartPole-v1", "Catch-v0"], "Environment; default: the " "zoo model's own."
)
_EPISODES = flags.DEFINE_integer("episodes", 100, "Number of episodes.", lower_bound=1)
_BACKEND = flags.DEFINE_enum(
  "backend",
  "tf",
  ["tf", "gymnasium"],
  "tf: batched TF " "environment; gymnasium: the reference implementation.",
)
_SAMPLE = flags.DEFINE_bool("sample", False, "Sample actions from the logits instead of argmax.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the episodes.", lower_bound=0)
_RENDER = flags.DEFINE_string("render", None, "Write an animated GIF of a few episodes here.")
_RENDER_EPISODES = flags.DEFINE_integer(
  "render_episodes", 3, "Episodes in the animation.", lower_bound=1
)
_LIST = flags.DEFINE_bool("list", False, "List the zoo models and exit.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST.value:
    for name in zoo.list():
      print(name)
    return
  spec = _MODEL.value
  try:
    _, entry = zoo.resolve(spec)
    if entry is None and _ENV.value is None:
      raise ValueError("--env is required when --model is a file path.")
    if entry is not None and entry["role"] != "actor":
      raise ValueError(f"{spec} is a {entry['role']}; evaluate an actor (a *_actor model).")
    env_name = _ENV.value or entry["env"]
    model = zoo.load_any(spec)
  except ValueError as e:
    raise app.UsageError(str(e))
  greedy = not _SAMPLE.value
  repeat = (entry or {}).get("action_repeat")
  if repeat:  # a continuous-control actor: its mean action, held as in training
    if _BACKEND.value != "tf" or _SAMPLE.value or _RENDER.value:
      raise app.UsageError(
        f"{spec} is a continuous-control actor: it plays its mean action on the tf backend "
        "only (no --backend=gymnasium, --sample or --render)."
      )
    returns = evaluation.evaluate_tf(
      model, env_name, _EPISODES.value, seed=_SEED.value, action_repeat=repeat
    )
  else:
    returns = evaluation.evaluate(
      model, env_name, _EPISODES.value, greedy=greedy, seed=_SEED.value, backend=_BACKEND.value
    )
  mean, two_se = results.mean_and_2se(returns)
  mode = "greedy" if greedy else "sampled"
  print(
    f"{spec} on {env_name} ({_BACKEND.value} backend, {mode}): {mean:.3f} +- {two_se:.3f} "
    f"over {returns.size} episodes (min {returns.min():.3f}, max {returns.max():.3f})"
  )
  if _RENDER.value:
    shown = evaluation.render_episodes(
      model, env_name, _RENDER.value, _RENDER_EPISODES.value, greedy=greedy, seed=_SEED.value
    )
    print(f"wrote {_RENDER.value} ({len(shown)} episodes, returns {shown})")


if __name__ == "__main__":
  app.run(main)
