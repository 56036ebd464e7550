"""Echo back what a Cloud Function receives: method, path, query parameters and JSON body.

Handy for checking what a client (a survey, a notebook, curl) really sends.
"""
from flask import jsonify


def echo(request):
    body = request.get_json(silent=True)  # None when the body is missing or not JSON
    args = {key: values[0] if len(values) == 1 else values for key, values in request.args.lists()}
    return jsonify({
        "success": True,
        "method": request.method,
        "path": request.path,
        "args": args,
        "json": body,
        "contentType": request.content_type,
        "bodyBytes": len(request.get_data()),
    })
