"""Price thousands of European options on Gale, two ways, and check they agree.

1. By name: ``function/`` is deployed as the Cloud Functions style function
   ``price-option`` and ``Executor.map("price-option", options)`` sends each option
   as the JSON body of one call.
2. As a local callable: ``Executor.map(lambda option: price_option(**option), options)``.
   ``price_option`` lives in ``function/blackscholes.py``, a module of this project
   that the server cannot import, so the client ships it by value with the lambda.

    python3 examples/black-scholes/price_options.py --count 2000
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTION_DIR = os.path.join(HERE, "function")
sys.path.insert(0, FUNCTION_DIR)
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "python"))  # gale, when run from a checkout

import gale  # noqa: E402
from blackscholes import price_option  # noqa: E402

FUNCTION = "price-option"


def make_options(count, seed=7):
    """``count`` options with fixed random parameters (the same list on every run)."""
    rng = random.Random(seed)
    return [{"S": round(rng.uniform(50, 150), 2), "K": round(rng.uniform(50, 150), 2),
             "T": round(rng.uniform(0.1, 2.0), 3), "r": round(rng.uniform(0.0, 0.05), 4),
             "sigma": round(rng.uniform(0.1, 0.6), 3), "kind": rng.choice(["call", "put"])}
            for _ in range(count)]


def deploy(client, max_instances=8):
    """Deploys function/ as price-option (gale.toml in the folder holds the rest of the settings)."""
    return client.deploy(FUNCTION, FUNCTION_DIR, {"entryPoint": "price", "maxInstances": max_instances})


def price_by_name(executor, options):
    return list(executor.map(FUNCTION, options))


def price_with_callable(executor, options):
    return list(executor.map(lambda option: price_option(**option), options))


def main(argv=None, executor=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="options to price (default 2000)")
    parser.add_argument("--workers", type=int, default=8, help="calls at once (default 8)")
    parser.add_argument("--url", help="Gale server (default: GALE_URL, else ./.gale/server.json)")
    parser.add_argument("--token", help="admin token (default: GALE_TOKEN, else ./.gale/admin-token)")
    args = parser.parse_args(argv)

    options = make_options(args.count)
    executor = executor or gale.Executor(args.url, args.token, max_workers=args.workers)
    deploy(executor.client, args.workers)

    started = time.perf_counter()
    by_name = price_by_name(executor, options)
    name_seconds = time.perf_counter() - started
    print(f"priced {len(options)} options with the deployed function {FUNCTION!r} in {name_seconds:.2f}s "
          f"({len(options) / name_seconds:.0f} options/s)")

    started = time.perf_counter()
    by_callable = price_with_callable(executor, options)
    callable_seconds = time.perf_counter() - started
    print(f"priced {len(options)} options with a local callable in {callable_seconds:.2f}s "
          f"({len(options) / callable_seconds:.0f} options/s)")

    difference = max(abs(a["price"] - b["price"]) for a, b in zip(by_name, by_callable))
    print(f"largest price difference between the two: {difference}")
    for option, result in list(zip(options, by_name))[:3]:
        print(f"  {option['kind']:>4} S={option['S']:7.2f} K={option['K']:7.2f} T={option['T']:.3f} "
              f"sigma={option['sigma']:.3f} -> price {result['price']:9.4f}  delta {result['delta']:+.4f}")
    return options, by_name, by_callable


if __name__ == "__main__":
    main()
