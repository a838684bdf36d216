import json, sys, time
import numpy as np
from tf_equirl.prae import PRAEConfig, train_prae
seeds = [int(s) for s in sys.argv[1].split(",")]
arms = sys.argv[2].split(",")
ARMS = {
  "prae": {},
  "equi": dict(encoder="gcnn", equivariant=True, fold_prototypes=True),
  "equi_left": dict(encoder="gcnn", equivariant=True, fold_prototypes=True, data_actions=(0,)),
  "prae_left": dict(data_actions=(0,)),
}
for arm in arms:
  for seed in seeds:
    t = time.time()
    run = train_prae(PRAEConfig(seed=seed, **ARMS[arm]))
    h = run.history
    print(json.dumps(dict(arm=arm, seed=seed, mean=float(np.mean(run.returns)),
      se=float(np.std(run.returns, ddof=1)/np.sqrt(len(run.returns))),
      val30=h[29].get("val_hits_at_1"), loss30=h[29]["loss"], loss100=h[-1]["loss"],
      sec=round(time.time()-t,1))), flush=True)
