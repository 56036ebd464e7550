"""A survey backend for dynamic sampling, called from the respondent's browser.

Each respondent rates K slogans they have not seen; each slogan is rated by at most TARGET
respondents, least-rated slogans first. A Qualtrics-like page (index.html) calls it twice:

    GET  <function-url>?respondent=R_123           -> {"items": [{"id": ..., "text": ...}, ...]}
    POST <function-url>  {"respondent": "R_123", "ratings": {"slogan-04": 5, ...}}
                                                   -> {"saved": ["slogan-04", ...]}

The draw is leased for LEASE: a respondent who closes the tab never posts, and their slogans
go back to the pool for others. The sampler (created from items.json on first use) and the
ratings live in the function's own state namespace, which Gale lets this function use with the
credential it hands each instance. The function answers the CORS preflight itself.
"""
import json

from gale import state
from gale.errors import ApiError, ConflictError

K = 3
TARGET = 5
LEASE = "15m"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "3600",
}
JSON_HEADERS = {**CORS_HEADERS, "Content-Type": "application/json"}


def survey(request):
    if request.method == "OPTIONS":
        return "", 204, PREFLIGHT_HEADERS
    try:
        if request.method == "GET":
            return draw(request.args.get("respondent", ""))
        if request.method == "POST":
            return save(request.get_json(silent=True) or {})
    except ConflictError as err:
        return answer({"error": str(err)}, 409)
    except ApiError as err:
        return answer({"error": str(err)}, err.status if err.status and err.status < 500 else 502)
    return answer({"error": "use GET to draw items and POST to save ratings"}, 405)


def draw(respondent):
    if not respondent:
        return answer({"error": "respondent is required: ?respondent=RESPONSE_ID"}, 400)
    pool = state.sampler()
    try:
        items = pool.draw(respondent, K, lease=LEASE)
    except ApiError as err:
        if err.status != 404:
            raise
        create_sampler(pool)
        items = pool.draw(respondent, K, lease=LEASE)
    return answer({"respondent": respondent, "items": items})


def save(body):
    respondent, ratings = body.get("respondent"), body.get("ratings")
    if not respondent or not isinstance(ratings, dict) or not ratings:
        return answer({"error": 'post {"respondent": "R_123", "ratings": {"slogan-04": 5}}'}, 400)
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 7 for v in ratings.values()):
        return answer({"error": "ratings are whole numbers from 1 to 7"}, 400)
    saved = state.sampler().confirm(respondent, list(ratings))
    # The response and the running totals in one transaction: all of it counts, or none.
    ops = [{"op": "put", "key": f"responses/{respondent}", "value": ratings}]
    for item in saved:
        ops.append({"op": "increment", "key": f"totals/{item}/sum", "by": ratings[item]})
        ops.append({"op": "increment", "key": f"totals/{item}/n", "by": 1})
    state.transaction(ops)
    return answer({"respondent": respondent, "saved": saved})


def create_sampler(pool):
    with open("items.json", encoding="utf-8") as file:
        items = json.load(file)
    try:
        pool.create(items, TARGET, lease=LEASE)
    except ConflictError:
        pass  # another instance created it first


def answer(body, status=200):
    return json.dumps(body), status, JSON_HEADERS
