"""Trains the small credit-risk model the examples promote, and writes its evidence.

Everything is synthetic and seeded: no download, the same bytes on every run with the pinned
scikit-learn and skops of test/python-requirements.txt. Run from the repository root:

    .tools/venv/bin/python examples/train.py

It writes, next to this script:

- model/model.skops      the model, saved with skops (no pickle: what the passing examples promote)
- model/model.pkl        the same model as a plain pickle (the scanner allows scikit-learn's
                         classes; examples/policies/strict.yaml refuses the pickle format outright)
- model/model-with-payload.pkl  a pickle that would run a shell command if loaded
                         (fails-security.yaml; written opcode by opcode, never loaded)
- evaluation.csv         held-out rows: label, prediction, score and the sensitive column `group`
- evaluation-weak.csv    the same rows scored by a model that saw one uninformative feature
                         (fails-performance.yaml)
- evaluation-biased.csv  the same rows scored by a model trained on labels that were biased
                         against group B (fails-fairness.yaml)

and prints the sha256 of each file and the metrics the manifests declare.
"""

from __future__ import annotations

import csv
import hashlib
import io
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

SEED = 20261101
ROWS = 4000
HERE = Path(__file__).resolve().parent
FEATURES = ["income_k", "debt_ratio", "years_of_history", "late_payments", "loan_amount_k"]


def synthetic_applicants(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Applicants with five numeric features, a group (independent of everything) and `repaid`."""
    income = rng.gamma(shape=6.0, scale=9.0, size=ROWS)  # thousands per year
    debt_ratio = rng.beta(2.0, 5.0, size=ROWS)
    history = rng.integers(0, 30, size=ROWS).astype(float)
    late = rng.poisson(1.2, size=ROWS).astype(float)
    loan = rng.gamma(shape=3.0, scale=8.0, size=ROWS)
    group = rng.choice(np.array(["A", "B"]), size=ROWS)
    logit = 0.09 * income - 9.0 * debt_ratio + 0.15 * history - 1.4 * late - 0.03 * loan - 0.4
    repaid = (logit + rng.logistic(scale=0.35, size=ROWS) > 0).astype(int)
    features = np.column_stack([income, debt_ratio, history, late, loan])
    return features, group, repaid


def write_evaluation(file: Path, labels: np.ndarray, predictions: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> None:
    """The evaluation file of a manifest: one row per held-out applicant."""
    with file.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["label", "prediction", "score", "group"])
        for label, prediction, score, group in zip(labels, predictions, scores, groups):
            writer.writerow([int(label), int(prediction), f"{score:.6f}", group])


def write_reproducible_zip(archive: bytes, file: Path) -> None:
    """
    Rewrites the zip skops writes so that its digest is the same on every run. skops keys the
    objects of schema.json (`"__id__"`) and names the array members after Python object ids,
    which differ per run: each id is renumbered in order of first appearance (consistently, so
    shared references stay shared), and every member gets a fixed time.
    """
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        schema = source.read("schema.json").decode()
        numbers: dict[str, str] = {}

        def renumbered(match: re.Match[str]) -> str:
            number = numbers.setdefault(match.group(2), str(len(numbers) + 1))
            return f"{match.group(1)}{number}{match.group(3)}"

        pattern = re.compile(r'("__id__": |"file": ")(\d+)(\.npy"|)')
        schema = pattern.sub(renumbered, schema)
        contents = {"schema.json": schema.encode()}
        for name in source.namelist():
            if name != "schema.json":
                contents[f"{numbers[Path(name).stem]}{Path(name).suffix}"] = source.read(name)
    with zipfile.ZipFile(file, "w") as target:
        for name in sorted(contents, key=lambda n: (n != "schema.json", n)):
            member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, contents[name])


def sha256_of(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def report(name: str, labels: np.ndarray, predictions: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> None:
    rates = {g: float(predictions[groups == g].mean()) for g in ("A", "B")}
    print(
        f"{name}: accuracy {accuracy_score(labels, predictions):.4f}, f1 {f1_score(labels, predictions):.4f}, "
        f"rocAuc {roc_auc_score(labels, scores):.4f}, selection rate A {rates['A']:.3f} B {rates['B']:.3f}"
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    features, group, repaid = synthetic_applicants(rng)
    x_train, x_test, y_train, y_test, g_train, g_test = train_test_split(
        features, repaid, group, test_size=0.375, random_state=SEED, stratify=repaid
    )

    model = LogisticRegression(max_iter=1000)
    model.fit(x_train, y_train)
    (HERE / "model").mkdir(exist_ok=True)
    write_reproducible_zip(sio.dumps(model), HERE / "model" / "model.skops")
    with (HERE / "model" / "model.pkl").open("wb") as out:
        pickle.dump(model, out, protocol=4)
    # What fails-security.yaml submits: a pickle that runs a shell command when it is loaded,
    # written opcode by opcode (protocol 0: GLOBAL os.system, a string, REDUCE). Nothing loads it.
    (HERE / "model" / "model-with-payload.pkl").write_bytes(b"cos\nsystem\n(S'echo this pickle ran a shell command'\ntR.")
    scores = model.predict_proba(x_test)[:, 1]
    predictions = (scores >= 0.5).astype(int)
    write_evaluation(HERE / "evaluation.csv", y_test, predictions, scores, g_test)
    report("evaluation.csv", y_test, predictions, scores, g_test)

    # A model that only saw the loan amount: barely better than always saying "repaid".
    weak = LogisticRegression(max_iter=1000).fit(x_train[:, [4]], y_train)
    weak_scores = weak.predict_proba(x_test[:, [4]])[:, 1]
    weak_predictions = (weak_scores >= 0.5).astype(int)
    write_evaluation(HERE / "evaluation-weak.csv", y_test, weak_predictions, weak_scores, g_test)
    report("evaluation-weak.csv", y_test, weak_predictions, weak_scores, g_test)

    # Historical decisions that refused most of group B's applicants, learned with the group as a
    # feature: the model reproduces the bias on the (unbiased) held-out labels.
    biased_labels = y_train.copy()
    refused = (g_train == "B") & (rng.random(len(y_train)) < 0.25)
    biased_labels[refused] = 0
    with_group = lambda x, g: np.column_stack([x, (g == "B").astype(float)])  # noqa: E731
    biased = LogisticRegression(max_iter=1000).fit(with_group(x_train, g_train), biased_labels)
    biased_scores = biased.predict_proba(with_group(x_test, g_test))[:, 1]
    biased_predictions = (biased_scores >= 0.5).astype(int)
    write_evaluation(HERE / "evaluation-biased.csv", y_test, biased_predictions, biased_scores, g_test)
    report("evaluation-biased.csv", y_test, biased_predictions, biased_scores, g_test)

    for name in ["model/model.skops", "model/model.pkl", "model/model-with-payload.pkl", "evaluation.csv", "evaluation-weak.csv", "evaluation-biased.csv"]:
        print(f"sha256 {sha256_of(HERE / name)}  {name}")


if __name__ == "__main__":
    main()
