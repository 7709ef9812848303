#!/usr/bin/env python3
"""Back up, restore and list PostgreSQL dumps kept in object storage."""
import argparse
import datetime as dt
import os
import subprocess

common = argparse.ArgumentParser(add_help=False)
common.add_argument("--dsn", default=os.environ.get("DATABASE_URL"),
                    help="libpq connection string (default: $DATABASE_URL)")
common.add_argument("--bucket", default="s3://ops-db-backups",
                    help="where dumps are stored")

parser = argparse.ArgumentParser(description="PostgreSQL backup helper.")
parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
subparsers = parser.add_subparsers(dest="command", required=True)

backup = subparsers.add_parser("backup", parents=[common], help="dump a database")
backup.add_argument("database", help="database name")
backup.add_argument("--format", dest="dump_format", choices=["custom", "plain", "directory"],
                    default="custom", help="pg_dump --format")
backup.add_argument("-j", "--jobs", type=int, default=1,
                    help="parallel jobs (directory format only)")

restore = subparsers.add_parser("restore", parents=[common], help="restore a dump")
restore.add_argument("dump", help="object key of the dump")
restore.add_argument("target", help="database to restore into")
restore.add_argument("--clean", action="store_true", help="drop objects before recreating")

listing = subparsers.add_parser("list", help="list stored dumps")
listing.add_argument("--since", metavar="YYYY-MM-DD",
                     help="only dumps taken on or after this date")


def run_backup(args):
    stamp = dt.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    key = f"{args.bucket}/{args.database}/{stamp}.dump"
    subprocess.run(["pg_dump", f"--format={args.dump_format}", f"--jobs={args.jobs}",
                    "--file", key, args.dsn], check=True)


if __name__ == "__main__":
    ns = parser.parse_args()
    if ns.command == "backup":
        run_backup(ns)
