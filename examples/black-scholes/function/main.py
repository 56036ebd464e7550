"""Price one European option, Cloud Functions style.

    POST <function-url>  {"S": 100, "K": 95, "T": 0.5, "r": 0.01, "sigma": 0.2, "kind": "call"}

answers {"price": 7.67..., "delta": 0.71...}. A bad option answers 400 with
{"error": ...}. Mapped over thousands of options with
gale.Executor().map("price-option", options), every option is one call.
"""
from flask import jsonify

from blackscholes import price_option

FIELDS = ("S", "K", "T", "r", "sigma")


def price(request):
    option = request.get_json(silent=True)
    if not isinstance(option, dict):
        return jsonify(error="POST a JSON object with S, K, T, r, sigma and optionally kind"), 400
    missing = [field for field in FIELDS if field not in option]
    if missing:
        return jsonify(error=f"missing {', '.join(missing)}"), 400
    try:
        values = {field: float(option[field]) for field in FIELDS}
        return jsonify(price_option(kind=option.get("kind", "call"), **values))
    except (TypeError, ValueError) as exc:
        return jsonify(error=str(exc)), 400
