"""Logs a small scikit-learn model to the MLflow tracking server of MLFLOW_TRACKING_URI and registers it.

Usage: log-model.py <registered model name> [versions, default 1]
Each run carries metrics, a source-commit tag and a logged dataset input, as a training job's would.
Prints one JSON line per version: {"model", "version", "runId", "commit", "dataset"}.
"""
import json
import sys

import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

name = sys.argv[1]
rng = np.random.default_rng(7)
features = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
labels = (features["a"] + features["b"] > 0).astype(int)
commit = "0123456789abcdef0123456789abcdef01234567"

mlflow.set_experiment("modelgate-tests")
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    with mlflow.start_run() as run:
        mlflow.set_tag("mlflow.source.git.commit", commit)
        dataset = mlflow.data.from_pandas(features.assign(label=labels), source="s3://training/credit.parquet", name="credit-train", targets="label")
        mlflow.log_input(dataset, context="training")
        model = LogisticRegression(max_iter=200).fit(features, labels)
        mlflow.log_metrics({"accuracy": float(model.score(features, labels)), "auc": 0.91})
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, serialization_format="skops", skops_trusted_types=[])
    print(json.dumps({"model": name, "version": str(info.registered_model_version), "runId": run.info.run_id, "commit": commit, "dataset": dataset.name}))
