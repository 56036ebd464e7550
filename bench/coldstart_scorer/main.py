"""A Cloud Functions style scorer, as a model server writes it: the model is
unpickled into a global at import time, so every cold start pays for it.

model.pkl is written by bench/coldstart.py (a LogisticRegression trained on
synthetic data with a fixed seed); it is not kept in the repository.
"""
import json
import pickle

import sklearn  # noqa: F401 - model-serving code imports it; unpickling needs it anyway

with open("model.pkl", "rb") as f:
    MODEL = pickle.load(f)


def score(request):
    row = [float(request.args.get(f"f{i}", "0")) for i in range(4)]
    return json.dumps({"p": round(float(MODEL.predict_proba([row])[0, 1]), 4)})
