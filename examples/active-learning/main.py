"""Active learning behind a survey, served the Cloud Functions way.

    POST <function-url>
    {"features": {"minutes": 7.5, "clicks": 4}}                  # a respondent: what does the model think?
    {"features": {"minutes": 7.5, "clicks": 4}, "label": 1}      # a labelled response: also learn from it

answers {"prediction": 1, "probability": 0.83, "askForLabel": false, "model": 3}: the model's guess,
whether the survey should ask this respondent for a label (the model is unsure: active learning asks
where it learns most), and the version of the model that answered. A labelled response is stored in
shared state under responses/NNNNNN; every N of them the retrain function (retrain/, called by a trigger
on those keys) fits a new model, writes it to the blob store and moves @prod. This function follows
@prod with gale.blobs.load, so the next calls get the new model: no redeploy, no failed call.
"""
import pickle

from flask import jsonify

from gale import blobs, state
from gale.errors import ApiError

MODEL = "active-learning/model.pkl@prod"      # the bucket is this function's own
FEATURES = ("minutes", "clicks")              # the order the model is trained on (retrain/main.py)
UNSURE = 0.2                                  # ask for a label when the probability is this close to 0.5

_model = None  # a gale.blobs.Loaded following @prod, once the retrain function published a model


def current_model():
    """(version, model) serving now; (None, None) until the first model is published."""
    global _model
    if _model is None:
        try:
            _model = blobs.load(MODEL, pickle.load, interval=1.0)
        except ApiError as err:
            if err.status != 404:
                raise
            return None, None
    return _model.current()  # both at once: the model and its version always belong together


def answer(request):
    body = request.get_json(silent=True)
    try:
        features = read_features(body)
        label = read_label(body)
    except (TypeError, ValueError) as err:
        return jsonify({"error": str(err)}), 400

    version, model = current_model()
    probability = float(model.predict_proba([features])[0][1]) if model is not None else 0.5
    data = {
        "prediction": int(probability >= 0.5),
        "probability": round(probability, 4),
        "askForLabel": abs(probability - 0.5) < UNSURE,
        "model": version.version if version is not None else None,
    }
    if label is not None:
        n = state.increment("count")
        state.put(f"responses/{n:06d}", {"features": features, "label": label})  # the trigger sees this
        data["response"] = n
    return jsonify(data)


def read_features(body):
    if not isinstance(body, dict) or not isinstance(body.get("features"), dict):
        raise TypeError('send JSON like {"features": {"minutes": 7.5, "clicks": 4}} (and "label": 0 or 1 to learn from it)')
    out = []
    for name in FEATURES:
        value = body["features"].get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"feature {name!r} must be a number, got {value!r}")
        out.append(float(value))
    return out


def read_label(body):
    if "label" not in body:
        return None
    if body["label"] not in (0, 1) or isinstance(body["label"], bool):
        raise ValueError(f"label must be 0 or 1, got {body['label']!r}")
    return int(body["label"])
