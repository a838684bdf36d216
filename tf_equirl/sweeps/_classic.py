"""A trial's unfinished seeds with XLA's classic runtime: `python -m tf_equirl.sweeps._classic`.

A Ray worker whose trial XLA's newer runtime cannot compile (`tf_equirl.compilation`) cannot
switch runtimes itself, because XLA reads its flags once per process; it starts this module
with the trial as JSON on stdin (`{"params", "sweep", "trial_id"}`). The runtime is set here
before TensorFlow runs anything, then the seeds train and are written to the trial's run
store exactly as the trial writes them (`runner._train`).
"""

import json
import sys

from tf_equirl import compilation


def main() -> None:
  job = json.load(sys.stdin)
  compilation.configure(compilation.CompilationConfig(xla_runtime=False, cache_dir=None))
  from tf_equirl.sweeps import runner  # pylint: disable=import-outside-toplevel

  algorithm, config, store = runner._open_trial(job["params"], job["sweep"])  # pylint: disable=protected-access
  todo = [s for s in job["params"]["seeds"] if not store.has(s)]
  runner._train(algorithm, config, store, todo, job["trial_id"])  # pylint: disable=protected-access


if __name__ == "__main__":
  main()
