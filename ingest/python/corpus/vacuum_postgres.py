#!/usr/bin/env python3
"""Run VACUUM (ANALYZE) on bloated PostgreSQL tables during the maintenance window."""
import argparse
import sys


class VacuumTool:
    """Small CLI object so the cron wrapper can reuse the parser."""

    def __init__(self):
        self.parser = argparse.ArgumentParser(
            description="Vacuum bloated tables.",
        )
        self.parser.add_argument("database", help="database to connect to")
        self.parser.add_argument("tables", nargs="?", default=None,
                                 help="comma separated table list (default: auto-detect)")
        self.parser.add_argument("--full", action="store_true",
                                 help="VACUUM FULL (takes an exclusive lock!)")
        self.parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                                 help="skip ANALYZE")
        self.parser.add_argument("--min-bloat", type=float, default=0.2,
                                 help="bloat ratio that triggers a vacuum (default: %(default)s)")
        self.parser.add_argument("--lock-timeout", default="5s",
                                 help="SET lock_timeout for the session")

    def run(self, argv=None) -> int:
        args = self.parser.parse_args(argv)
        options = ["FULL"] if args.full else []
        if args.analyze:
            options.append("ANALYZE")
        tables = args.tables.split(",") if args.tables else []
        for table in tables:
            print(f"VACUUM ({', '.join(options)}) {table};")
        return 0


if __name__ == "__main__":
    sys.exit(VacuumTool().run())
