"""A fraud score behind API Gateway, written as an AWS Lambda handler.

    POST <function-url>?threshold=0.5
    {"amount": 420.0, "hour": 3, "foreign": true}

API Gateway's proxy integration hands the handler the body as a JSON string in
event["body"] and expects {"statusCode", "headers", "body"} back.
"""
import base64
import json
import pickle
from pathlib import Path

FEATURES = ("amount", "hour", "foreign")  # the order the model was trained on
JSON_HEADERS = {"Content-Type": "application/json"}

# Loaded once per execution environment, outside the handler, as Lambda recommends.
with open(Path(__file__).parent / "model" / "fraud.pkl", "rb") as f:
    MODEL = pickle.load(f)  # LogisticRegression


def lambda_handler(event, context):
    try:
        features = read_features(event)
        threshold = read_threshold(event)
    except ValueError as err:
        return respond(400, {"message": str(err)})

    probability = float(MODEL.predict_proba([features])[0, 1])
    print(f"scored request {context.aws_request_id}: p={probability:.4f}")
    return respond(200, {
        "fraud": probability >= threshold,
        "probability": round(probability, 4),
        "threshold": threshold,
        "requestId": context.aws_request_id,
    })


def read_features(event):
    body = event.get("body")
    if not body:
        raise ValueError(f"missing request body: POST a JSON object with {', '.join(FEATURES)}")
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    try:
        params = json.loads(body)
    except json.JSONDecodeError as err:
        raise ValueError(f"request body is not valid JSON: {err}") from None
    if not isinstance(params, dict):
        raise ValueError(f"request body must be a JSON object with {', '.join(FEATURES)}")
    missing = [name for name in FEATURES if name not in params]
    if missing:
        raise ValueError(f"missing {', '.join(missing)} in the request body")
    features = []
    for name in FEATURES:
        value = params[name]
        if not isinstance(value, (int, float)):  # bool is an int: "foreign": true counts as 1
            raise ValueError(f"{name} must be a number, got {json.dumps(value)}")
        features.append(float(value))
    return features


def read_threshold(event):
    raw = (event.get("queryStringParameters") or {}).get("threshold", "0.5")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"threshold={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold={raw} must be between 0 and 1")
    return value


def respond(status, payload):
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(payload)}
