#!/usr/bin/env python3
"""Promote the standby database and repoint the application (work in progress)."""
import argparse
import subprocess

parser = argparse.ArgumentParser(description="Fail over to the standby.")
parser.add_argument("standby", help="standby host to promote")
parser.add_argument("--skip-fence", action="store_true")


def promote(host)
    subprocess.run(["ssh", host, "pg_ctl", "promote"], check=True)


if __name__ == "__main__":
    args = parser.parse_args()
    promote(args.standby)
