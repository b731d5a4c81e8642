"""XGBoost side of scripts/bench/gbdt.ts: trains on the given split and writes test predictions.

The objective follows the task (binary:logistic, multi:softprob, reg:squarederror or
count:poisson). Only the xgb.train call is timed (it includes XGBoost's own histogram binning).
"""
import json
import resource
import sys
import time

import numpy as np
import xgboost as xgb

train_path, test_path, out_path, params_json = sys.argv[1:5]
p = json.loads(params_json)
train = np.loadtxt(train_path, delimiter=",", dtype=np.float32, ndmin=2)
test = np.loadtxt(test_path, delimiter=",", dtype=np.float32, ndmin=2)
threads = p.get("threads", 1)
dtrain = xgb.DMatrix(train[:, 1:], label=train[:, 0], nthread=threads, missing=np.nan)
dtest = xgb.DMatrix(test[:, 1:], nthread=threads, missing=np.nan)
params = {
    "objective": p["objective"],
    "tree_method": "hist",
    "max_depth": p["maxDepth"],
    "eta": p["learningRate"],
    "lambda": p["lambda"],
    "min_child_weight": p["minChildWeight"],
    "max_bin": p["maxBins"],
    "nthread": threads,
    "seed": 7,
}
if p.get("classes"):
    params["num_class"] = p["classes"]
cpu0 = time.process_time()
wall0 = time.perf_counter()
booster = xgb.train(params, dtrain, num_boost_round=p["trees"])
wall = time.perf_counter() - wall0
cpu = time.process_time() - cpu0
np.savetxt(out_path, booster.predict(dtest).reshape(-1), fmt="%.9g")
print(json.dumps({
    "version": xgb.__version__,
    "trainSeconds": wall,
    "cpuSeconds": cpu,
    "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
