"""Score a Qualtrics respondent's first block of answers and choose their next block.

The survey's JavaScript calls this from the respondent's browser:

    GET <function-url>?f1=6&f2=2&f3=5&f4=7

and reads back JSON such as {"block": 1, "interest": 0.8213}. Because the call is
cross-origin, the function answers the CORS preflight itself and puts
Access-Control-Allow-Origin on every response, exactly as it must on Cloud Functions.
"""
import json
import pickle

import numpy as np

NUM_ANSWERS = 4            # query parameters f1..f4
SCALE = (1.0, 7.0)         # 7-point Likert answers
NEUTRAL = 4.0              # a skipped question counts as the midpoint of the scale
MODEL_DIR = "model-obj"    # relative: the function runs with its source folder as working directory

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "3600",
}


def load_model(name):
    with open(f"{MODEL_DIR}/{name}.pkl", "rb") as f:
        return pickle.load(f)


# Loaded once per instance at cold start, then shared by every call it serves.
BLOCK_MODEL = load_model("block")         # DecisionTreeClassifier -> follow-up block 0, 1 or 2
INTEREST_MODEL = load_model("interest")   # LogisticRegression -> P(opts into a follow-up study)


def prediction(request):
    if request.method == "OPTIONS":
        return "", 204, PREFLIGHT_HEADERS

    headers = {**CORS_HEADERS, "Content-Type": "application/json"}
    try:
        answers = parse_answers(request.args)
    except ValueError as err:
        return json.dumps({"error": str(err)}), 400, headers

    result = {
        "block": int(BLOCK_MODEL.predict(answers)[0]),
        "interest": round(float(INTEREST_MODEL.predict_proba(answers)[0, 1]), 4),
    }
    return json.dumps(result), 200, headers


def parse_answers(args):
    """f1..fN from the query string as a 1 x N row; raises ValueError naming the bad answer."""
    answers = np.full((1, NUM_ANSWERS), NEUTRAL)
    for i in range(NUM_ANSWERS):
        key = f"f{i + 1}"
        raw = args.get(key, "").strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{key}={raw!r} is not a number") from None
        if not SCALE[0] <= value <= SCALE[1]:  # also rejects nan and inf
            raise ValueError(f"{key}={raw} is outside the answer scale {SCALE[0]:g}..{SCALE[1]:g}")
        answers[0, i] = value
    return answers
