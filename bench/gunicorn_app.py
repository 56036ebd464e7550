"""Serve one Gale bundle's Cloud Functions style function with gunicorn.

The baseline of bench/gunicorn_vs_gale.sh. It does what Google's
functions-framework does: a Flask app that sends every path and method to the
user's function and lets Flask turn its return value into the response. So
gunicorn and Gale run the very same user code.

    GALE_BENCH_SOURCE=examples/survey-scorer \
        python3 -m gunicorn -w 4 -b 127.0.0.1:8001 --pythonpath bench gunicorn_app:app

The entry point and module come from the bundle's gale.toml, as Gale reads them.
Like a Gale instance, each worker imports the function with the bundle root as
its working directory, so relative model paths work the same way.
"""
import importlib.util
import os
import sys
import tomllib
from pathlib import Path

import flask

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def load_function(source: Path):
    if not source.is_dir():
        raise SystemExit(f"gunicorn_app: GALE_BENCH_SOURCE={source} is not a folder")
    config_file = source / "gale.toml"
    config = tomllib.loads(config_file.read_text()) if config_file.is_file() else {}
    module_file = source / config.get("entry-module", "main.py")
    entry_point = config.get("entry-point", source.name.replace("-", "_"))

    os.chdir(source)
    sys.path.insert(0, str(source))
    sys.dont_write_bytecode = True  # leave no __pycache__ in the bundle folder
    spec = importlib.util.spec_from_file_location(module_file.stem, module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_file.stem] = module
    spec.loader.exec_module(module)
    function = getattr(module, entry_point, None)
    if not callable(function):
        raise SystemExit(f"gunicorn_app: {module_file} has no callable {entry_point!r} "
                         f"(entry-point in {config_file})")
    return function


try:
    _source = Path(os.environ["GALE_BENCH_SOURCE"]).resolve()
except KeyError:
    raise SystemExit("gunicorn_app: set GALE_BENCH_SOURCE to the bundle folder to serve") from None
function = load_function(_source)

# Like Cloud Functions (and Gale's bootstrap): no static route, so /static/... reaches
# the function too, and "/a//b" is not redirected.
app = flask.Flask(__name__, static_folder=None)
app.url_map.merge_slashes = False


def invoke(path):
    return function(flask.request)


# provide_automatic_options=False: the function, not Flask, answers OPTIONS (CORS preflight).
for rule, defaults in (("/", {"path": ""}), ("/<path:path>", None)):
    app.add_url_rule(rule, "invoke", invoke, defaults=defaults, methods=METHODS,
                     provide_automatic_options=False)
