#!/usr/bin/env python3
"""hello: a tiny HTTP app deployed by tend.

Reads its settings from the config file tend renders for each host and
answers GET / with the greeting and GET /healthz with "ok".
"""
import argparse
import http.server


def load_config(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    return conf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    conf = load_config(args.config)
    body = ("%s from %s (release %s)\n" % (
        conf.get("greeting", "hello"), conf.get("host", "?"),
        conf.get("release", "?"))).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            payload = b"ok\n" if self.path == "/healthz" else body
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, fmt, *args):
            pass

    server = http.server.HTTPServer(
        (conf.get("listen", "127.0.0.1"), int(conf.get("port", "8080"))),
        Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
