"""A whole Flask app, deployed the way Zappa deploys one: every sub-path goes to the app.

    GET  <function-url>/               what the service offers, with links built by url_for
    POST <function-url>/forecast/3     {"history": [12.0, 13.5, 15.1]} -> the next 3 values

Links come from url_for, so they carry whatever prefix the platform mounts the
app under (SCRIPT_NAME): /fn/flask-app on Gale, /dev on a Zappa stage.
"""
import numpy as np
from flask import Flask, jsonify, request, url_for

app = Flask(__name__)

MAX_STEPS = 100


@app.get("/")
def index():
    return jsonify({
        "service": "linear trend forecaster",
        "forecast": url_for("forecast", steps=3),
        "usage": 'POST {"history": [numbers, oldest first]} to the forecast URL',
    })


@app.post("/forecast/<int:steps>")
def forecast(steps):
    if not 1 <= steps <= MAX_STEPS:
        return jsonify({"error": f"steps must be between 1 and {MAX_STEPS}, got {steps}"}), 400
    history = (request.get_json(silent=True) or {}).get("history")
    if not isinstance(history, list) or len(history) < 2 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in history):
        return jsonify({"error": 'send {"history": [at least two numbers, oldest first]}'}), 400

    slope, intercept = np.polyfit(np.arange(len(history)), np.asarray(history, dtype=float), deg=1)
    ahead = np.arange(len(history), len(history) + steps)
    return jsonify({
        "steps": steps,
        "forecast": [round(float(v), 4) for v in slope * ahead + intercept],
        "slope": round(float(slope), 4),
        "self": url_for("forecast", steps=steps, _external=True),
    })
