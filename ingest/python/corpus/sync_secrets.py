#!/usr/bin/env python3
"""Copy secrets from Vault into Kubernetes Secret manifests or a dotenv file."""
import argparse
import json
import os
import sys

__version__ = "1.4.2"


def vault_options():
    """Connection options shared with the other Vault tools."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--vault-addr", default=os.environ.get("VAULT_ADDR", "http://127.0.0.1:8200"),
                        help="Vault address")
    parent.add_argument("--role", help="AppRole name; token auth when omitted")
    parent.add_argument("--tls-verify", action=argparse.BooleanOptionalAction, default=True,
                        help="verify the Vault TLS certificate")
    return parent


def output_options():
    out = argparse.ArgumentParser(add_help=False)
    group = out.add_argument_group("output")
    group.add_argument("-o", "--output", dest="out_file", default="-",
                       help="file to write, - for stdout")
    group.add_argument("--format", dest="fmt", choices=("k8s", "dotenv", "json"), default="k8s")
    return out


def main():
    parser = argparse.ArgumentParser(
        description="Sync secrets from Vault.",
        parents=[vault_options(), output_options()],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("paths", nargs="+", metavar="SECRET_PATH",
                        help="KV v2 paths, e.g. kv/data/payments/api")
    parser.add_argument("--namespace", default="default",
                        help="namespace written into the Secret manifest")
    args = parser.parse_args()
    data = {path: {} for path in args.paths}
    text = json.dumps(data, indent=2)
    if args.out_file == "-":
        sys.stdout.write(text)
    else:
        with open(args.out_file, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
