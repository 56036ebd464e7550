"""An HTTP server with nothing but the Python standard library, run by Gale's
process runtime the way Cloud Run runs a container: it listens on $PORT, answers
every method on every path, and exits cleanly on SIGTERM.

Every answer is JSON describing the request it received (method, path, query,
headers, body), so it shows exactly what reaches a process behind Gale.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Echo(BaseHTTPRequestHandler):
    server_version = "http-echo/1.0"

    def answer(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        delay = float(query.get("sleep", ["0"])[0])  # ?sleep=2 makes a slow call
        if delay:
            time.sleep(delay)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({
            "method": self.command,
            "path": url.path,
            "query": query,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "service": os.environ.get("K_SERVICE"),
            "revision": os.environ.get("K_REVISION"),
            "pid": os.getpid(),
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", "seen=1; Path=/")
        self.send_header("Set-Cookie", "flavour=plain; Path=/")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, fmt, *args):  # one line per call on stdout, which Gale keeps in `gale logs`
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Echo)

    def on_sigterm(signum, frame):
        # Gale (like Cloud Run) sends SIGTERM before stopping an instance, then SIGKILL
        # after a grace period: finish the calls in flight and exit.
        print("SIGTERM: finishing calls in flight, then exiting", flush=True)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print("http-echo listening on 127.0.0.1:%d for %s" % (port, os.environ.get("K_REVISION", "local")), flush=True)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
