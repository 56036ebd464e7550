"""Train the examples' small scikit-learn models on synthetic data and pickle them.

    /usr/bin/python3 examples/make_models.py [--if-missing]

With --if-missing it does nothing when every model file already exists (what
`./gale demo` and `./run-tests` call on each start).

Writes, next to the code that loads them:

    survey-scorer/model-obj/block.pkl     DecisionTreeClassifier: follow-up block 0, 1 or 2
    survey-scorer/model-obj/interest.pkl  LogisticRegression: P(opts into a follow-up study)
    model-server/model/churn.pkl          LogisticRegression: P(customer churns)
    lambda-scorer/model/fraud.pkl         LogisticRegression: P(transaction is fraud)

Every model is trained from a fixed seed, so a second run rewrites the same
models. Files are replaced atomically: a function that is loading one never
sees half a pickle. The .pkl files are build output and not committed.
"""
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

EXAMPLES = Path(__file__).resolve().parent
ROWS = 400
SEED = 20241125


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def survey_block(rng):
    """Four 7-point Likert answers -> which follow-up block a respondent sees."""
    x = rng.randint(1, 8, size=(ROWS, 4)).astype(float)
    y = np.where(x[:, :2].mean(axis=1) > 4.5, 1, np.where(x[:, 2] > 5, 2, 0))
    noisy = rng.rand(ROWS) < 0.1
    y[noisy] = rng.randint(0, 3, size=noisy.sum())
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y), x, y


def survey_interest(rng):
    """The same four answers -> does the respondent opt into a follow-up study."""
    x = rng.randint(1, 8, size=(ROWS, 4)).astype(float)
    logit = 0.8 * (x[:, 3] - 4) + 0.4 * (x[:, 2] - 4) - 0.3 * (x[:, 0] - 4)
    y = (rng.rand(ROWS) < _sigmoid(logit)).astype(int)
    return LogisticRegression().fit(x, y), x, y


def churn(rng):
    """tenure_months, sessions_per_week, support_tickets -> churned (model-server/main.py FEATURES)."""
    tenure = rng.uniform(0, 60, ROWS)
    sessions = rng.gamma(2.0, 2.0, ROWS)
    tickets = rng.poisson(1.0, ROWS).astype(float)
    # a DataFrame with the feature names, as model-server/main.py scores one (the Cloud Functions chapter's way)
    x = pd.DataFrame({"tenure_months": tenure, "sessions_per_week": sessions, "support_tickets": tickets})
    y = (rng.rand(ROWS) < _sigmoid(1.5 - 0.06 * tenure - 0.35 * sessions + 0.6 * tickets)).astype(int)
    return LogisticRegression(max_iter=1000).fit(x, y), x, y


def fraud(rng):
    """amount, hour, foreign -> fraudulent (lambda-scorer/main.py FEATURES)."""
    amount = rng.lognormal(3.5, 1.0, ROWS)
    hour = rng.randint(0, 24, ROWS).astype(float)
    foreign = (rng.rand(ROWS) < 0.15).astype(float)
    logit = -3.0 + 0.012 * amount + 1.8 * foreign + 1.2 * (hour < 6)
    y = (rng.rand(ROWS) < _sigmoid(logit)).astype(int)
    x = np.column_stack([amount, hour, foreign])
    return LogisticRegression(max_iter=1000).fit(x, y), x, y


# Destination (relative to examples/) -> trainer. Each trainer gets its own seeded
# RandomState, so adding or reordering models never changes the others.
MODELS = {
    "survey-scorer/model-obj/block.pkl": survey_block,
    "survey-scorer/model-obj/interest.pkl": survey_interest,
    "model-server/model/churn.pkl": churn,
    "lambda-scorer/model/fraud.pkl": fraud,
}


def _write_atomically(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_models(quiet: bool = False) -> list[Path]:
    """Train every model and pickle it into its example; returns the paths written."""
    written = []
    for index, (relative, train) in enumerate(MODELS.items()):
        model, x, y = train(np.random.RandomState(SEED + index))
        path = EXAMPLES / relative
        _write_atomically(path, model)
        written.append(path)
        if not quiet:
            print(f"wrote examples/{relative}: {type(model).__name__}, {len(y)} rows, "
                  f"training accuracy {model.score(x, y):.2f}")
    return written


def main() -> int:
    if "--if-missing" in sys.argv[1:] and all((EXAMPLES / relative).exists() for relative in MODELS):
        return 0
    started = time.monotonic()
    write_models()
    print(f"{len(MODELS)} models in {time.monotonic() - started:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
