#!/usr/bin/env python3
"""Purge cached objects from the CDN by URL, by surrogate tag or everything."""
import argparse as ap
import json
import os
import urllib.request

API = "https://api.cdn.example.net/v2/zones/{zone}/purge"

cli = ap.ArgumentParser(description="Purge CDN cache entries.")
cli.add_argument("--zone", required=True, help="CDN zone id")
cli.add_argument("--api-token", default=os.environ.get("CDN_API_TOKEN"),
                 help="API token (default: $CDN_API_TOKEN)")
what = cli.add_mutually_exclusive_group(required=True)
what.add_argument("--url", dest="urls", action="append", metavar="URL",
                  help="URL to purge (repeatable)")
what.add_argument("--tag", dest="tags", action="extend", nargs="+",
                  help="surrogate keys to purge")
what.add_argument("--everything", action="store_true", help="purge the whole zone")
cli.add_argument("--soft", action="store_true",
                 help="mark stale instead of deleting (serve-stale keeps working)")
cli.add_argument("--timeout", type=int, default=30, help="HTTP timeout in seconds")


def purge(opts) -> dict:
    body = {"soft": opts.soft}
    if opts.everything:
        body["all"] = True
    elif opts.urls:
        body["urls"] = opts.urls
    else:
        body["tags"] = opts.tags
    req = urllib.request.Request(
        API.format(zone=opts.zone), data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {opts.api_token}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=opts.timeout) as resp:
        return json.load(resp)


if __name__ == "__main__":
    print(json.dumps(purge(cli.parse_args()), indent=2))
