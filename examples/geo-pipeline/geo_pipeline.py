"""A three-step pipeline on Gale: geolocate zipcodes (I/O-bound, in parallel), clean the
addresses up (in parallel, in batches), sort them (here, sequentially).

geolocate stands in for a call to a geocoding web service: it waits ~100 ms, as a
network round trip would, and answers made-up but deterministic coordinates (or
None for one zipcode in eight, "not found"). The report shows what each step took
against running its calls one after another:

    python3 examples/geo-pipeline/geo_pipeline.py --count 3000 --workers 100
"""
import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "python"))

import gale  # noqa: E402

LOOKUP_SECONDS = 0.1
CITIES = ("Springfield", "Riverside", "Fairview", "Franklin", "Greenville", "Clinton", "Salem", "Madison")


def zipcodes(count, first=10000):
    return [f"{first + 7 * i:05d}" for i in range(count)]


@gale.parallel
def geolocate(zipcode):
    """Look a zipcode up: {zipcode, city, lat, lon}, or None when it is unknown."""
    time.sleep(LOOKUP_SECONDS)  # the web service's round trip
    digest = hashlib.sha256(zipcode.encode()).digest()
    if digest[0] % 8 == 0:
        return None
    return {"zipcode": zipcode, "city": CITIES[digest[1] % len(CITIES)],
            "lat": 25 + digest[2] / 255 * 24 + digest[3] / 65025, "lon": -124 + digest[4] / 255 * 57}


@gale.parallel(batch_size=100)
def cleanup(addresses):
    """Drop the unknown zipcodes, round coordinates to ~1 m, format a label."""
    return [dict(address, lat=round(address["lat"], 5), lon=round(address["lon"], 5),
                 label=f"{address['city']} {address['zipcode']}")
            for address in addresses if address is not None]


@gale.sequential
def sort(addresses):
    """North to south, then west to east."""
    return sorted(addresses, key=lambda address: (-address["lat"], address["lon"]))


def build(executor=None, verbose=True):
    return gale.Pipeline(geolocate, cleanup, sort, executor=executor, verbose=verbose)


def main(argv=None, executor=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="zipcodes (default 3000)")
    parser.add_argument("--workers", type=int, default=100, help="calls at once (default 100)")
    parser.add_argument("--url")
    parser.add_argument("--token")
    args = parser.parse_args(argv)
    executor = executor or gale.Executor(args.url, args.token, max_workers=args.workers)
    pipeline = build(executor)
    addresses = pipeline.run(zipcodes(args.count))
    print(f"{len(addresses)} of {args.count} zipcodes located; northernmost: {addresses[0]['label']}")
    return pipeline, addresses


if __name__ == "__main__":
    main()
