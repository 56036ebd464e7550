"""A churn model served the Cloud Functions way: loaded once per instance, reused while warm.

    POST <function-url>?threshold=0.5
    {"tenure_months": 14, "sessions_per_week": 3.5, "support_tickets": 2}

answers {"prediction": 1, "probability": 0.591, "success": true, ...}. The
"instance" field (process id and calls served) shows warm instances keeping
their globals between calls.
"""
import os
import pickle

import pandas as pd
from flask import jsonify

MODEL_PATH = os.environ.get("MODEL_PATH", "model/churn.pkl")  # relative to the source folder
FEATURES = ("tenure_months", "sessions_per_week", "support_tickets")  # the order the model was trained on

model = None       # loaded by the first call this instance serves
calls_served = 0


def predict(request):
    global model, calls_served
    if model is None:
        with open(MODEL_PATH, "rb") as f:
            model = pickle.load(f)
    calls_served += 1

    data = {"success": False, "instance": {"pid": os.getpid(), "callsServed": calls_served}}
    # Like on Cloud Functions, a body that is not JSON makes get_json() raise
    # BadRequest, which the platform answers with 400.
    params = request.get_json()
    try:
        features = pd.DataFrame([[number(params, name) for name in FEATURES]], columns=FEATURES)
        threshold = decision_threshold(request.args.get("threshold", "0.5"))
    except (TypeError, ValueError) as err:
        data["error"] = str(err)
        return jsonify(data), 400

    probability = float(model.predict_proba(features)[0, 1])
    data.update(
        success=True,
        prediction=int(probability >= threshold),
        probability=round(probability, 4),
        threshold=threshold,
    )
    return jsonify(data)


def number(params, name):
    if not isinstance(params, dict):
        raise TypeError(f"expected a JSON object with {', '.join(FEATURES)}")
    if name not in params:
        raise ValueError(f"missing feature {name!r}; send {', '.join(FEATURES)}")
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"feature {name!r} must be a number, got {value!r}")
    return float(value)


def decision_threshold(raw):
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"threshold={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold={raw} must be between 0 and 1")
    return value
