#!/usr/bin/env python3
"""shop-worker: the shop's background job, deployed by tend.

Every `interval` seconds it works through the order queue and writes the
shop's figures to `stats`, a JSON file that nginx serves beside the site
as /stats.json.  Settings come from the config file tend renders per host.
"""
import argparse
import json
import os
import time


def load_config(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    return conf


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def payment_key():
    """The payment API key systemd passed as a credential, or None."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not creds:
        return None
    try:
        with open(os.path.join(creds, "payment_key"), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    conf = load_config(args.config)
    interval = float(conf.get("interval", "5"))
    payments = "configured" if payment_key() else "missing key"
    runs = 0
    while True:
        runs += 1
        write_atomically(conf["stats"], {
            "environment": conf.get("environment", "?"),
            "host": conf.get("host", "?"),
            "release": conf.get("release", "?"),
            "runs": runs,
            "queue": 0,
            "payments": payments,
            "updated": int(time.time()),
        })
        time.sleep(interval)


if __name__ == "__main__":
    main()
