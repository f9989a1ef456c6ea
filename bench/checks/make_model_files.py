#!/usr/bin/env python3
"""Writes the pickle-based files of the checks benchmark into OUT_DIR: a joblib'd scikit-learn
model (a scaler and a random forest of TREES trees in a pipeline), a plain benign pickle, and
malicious pickles as attackers write them (a REDUCE of os.system, builtins.eval through
STACK_GLOBAL, subprocess.Popen, a joblib file whose object runs os.system, a payload injected into
a benign pickle with fickling's own injector, and the data.pkl of a PyTorch checkpoint running
os.system). No payload is ever executed: the files are only written.

Usage: make_model_files.py OUT_DIR TREES
"""
import builtins
import os
import pickle
import subprocess
import sys

import joblib
import numpy as np
from fickling.fickle import Pickled
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

out, trees = sys.argv[1], int(sys.argv[2])
rng = np.random.RandomState(0)
X = rng.rand(2000, 16)
y = (X[:, 0] + X[:, 1] > 1).astype(int)
model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=trees, random_state=0)).fit(X, y)
joblib.dump(model, os.path.join(out, "sklearn-model.joblib"))
with open(os.path.join(out, "benign.pkl"), "wb") as f:
    pickle.dump({"weights": [0.5, 0.25], "classes": ["a", "b"], "version": 3}, f, protocol=4)


class Reduce:
    """An object whose unpickling calls `fn(*args)`."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def dump(name, obj, protocol):
    with open(os.path.join(out, name), "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


dump("os-system.pkl", Reduce(os.system, ("id",)), 2)
dump("builtins-eval.pkl", Reduce(builtins.eval, ("1+1",)), 4)
dump("subprocess-popen.pkl", Reduce(subprocess.Popen, (["id"],)), 4)
joblib.dump({"model": Reduce(os.system, ("id",))}, os.path.join(out, "os-system.joblib"))
with open(os.path.join(out, "benign.pkl"), "rb") as f:
    injected = Pickled.load(f.read())
injected.insert_python_exec("import os; os.system('id')")
with open(os.path.join(out, "fickling-injected.pkl"), "wb") as f:
    f.write(injected.dumps())
with open(os.path.join(out, "malicious-data.pkl"), "wb") as f:
    pickle.dump({"model.weight": Reduce(os.system, ("id",))}, f, protocol=2)
