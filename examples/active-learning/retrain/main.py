"""Retrains the active-learning model every N labelled responses (docs/triggers.md).

A trigger calls this function with each response the serving function stores under
responses/NNNNNN in its state namespace (a CloudEvent: def retrain(cloud_event)). On every Nth
(RETRAIN_EVERY, from the key's number) it fits a logistic regression on every response so far,
writes the pickled model to the blob store as the next version of active-learning/model.pkl, and
points @prod at it; the serving function follows @prod and answers with the new model.

Every model is fitted on the labelled pool: the seed responses in seed.json and every response so
far. On its first start the function publishes a model fitted on seed.json alone, so the serving
function has a model from the start.
"""
import io
import json
import os
import pickle

from sklearn.linear_model import LogisticRegression

from gale import blobs, state
from gale.errors import ApiError

RESPONSES = state.namespace("active-learning")   # the serving function's namespace, granted in gale.toml
MODEL = "active-learning/model.pkl"
FEATURES = ("minutes", "clicks")
EVERY = int(os.environ.get("RETRAIN_EVERY", "10"))
with open("seed.json", encoding="utf-8") as _file:
    SEED = json.load(_file)                     # labelled before the survey started


def retrain(cloud_event):
    key = cloud_event.data["key"]                      # responses/000040
    n = int(key.rsplit("/", 1)[1])
    if n % EVERY:
        return {"retrained": False, "response": n}
    responses = list(RESPONSES.list("responses/").values())
    version = publish(SEED + responses, f"seed.json and {len(responses)} responses, up to #{n}")
    if version is None:
        return {"retrained": False, "response": n, "why": "the responses hold one label only"}
    print(f"retrained on {len(SEED)} seed rows and {len(responses)} responses: {MODEL} v{version} is @prod")
    return {"retrained": True, "response": n, "version": version}


def fit(rows):
    """A logistic regression on [minutes, clicks] -> label; None when the rows hold one class only."""
    X = [row["features"] for row in rows]
    y = [row["label"] for row in rows]
    if len(set(y)) < 2:
        return None
    return LogisticRegression(random_state=0).fit(X, y)


def publish(rows, note):
    """Writes the model fitted on rows as the next version and moves @prod to it; returns the version."""
    model = fit(rows)
    if model is None:
        return None
    buffer = io.BytesIO()
    pickle.dump(model, buffer)
    written = blobs.put(MODEL, buffer.getvalue(), metadata={"trainedOn": len(rows), "note": note})
    blobs.alias(MODEL, "prod", written.version)
    return written.version


def seed():
    """A starting model from seed.json, unless @prod already names one."""
    try:
        blobs.resolve(MODEL + "@prod")
        return
    except ApiError as err:
        if err.status != 404:
            raise
    publish(SEED, "seed.json")


seed()
