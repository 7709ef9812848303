#!/usr/bin/env python3
"""Thin wrapper around kubectl rollout for the on-call runbook.

Sub-commands mirror the runbook steps: status, restart, undo and the
history listing.
"""
import argparse
import subprocess
import sys


def add_target_args(p):
    """Options shared by every sub-command that touches a workload."""
    p.add_argument("workload", help="deployment/NAME, statefulset/NAME or daemonset/NAME")
    p.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace")
    p.add_argument("--context", help="kubeconfig context to use")


def kubectl(args, *extra):
    cmd = ["kubectl", "rollout", *extra, args.workload, "-n", args.namespace]
    if args.context:
        cmd += ["--context", args.context]
    return subprocess.run(cmd, check=False).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rollout")
    parser.add_argument("--dry-run", action="store_true", help="print kubectl commands only")
    sub = parser.add_subparsers(title="commands", dest="command")

    status = sub.add_parser("status", help="wait for the rollout to finish")
    add_target_args(status)
    status.add_argument("--timeout", default="5m", help="give up after this long")
    status.set_defaults(func=lambda a: kubectl(a, "status", f"--timeout={a.timeout}"))

    restart = sub.add_parser("restart", aliases=["rs"], help="trigger a rolling restart")
    add_target_args(restart)
    restart.set_defaults(func=lambda a: kubectl(a, "restart"))

    undo = sub.add_parser("undo", help="roll back")
    add_target_args(undo)
    undo.add_argument("--to-revision", type=int, default=0,
                      help="revision to roll back to; 0 means previous")
    undo.set_defaults(func=lambda a: kubectl(a, "undo", f"--to-revision={a.to_revision}"),
                      namespace="production")

    history = sub.add_parser("history")
    history_sub = history.add_subparsers(dest="history_command")
    show = history_sub.add_parser("show", help="list revisions")
    add_target_args(show)
    show.add_argument("--revision", type=int, help="details of one revision")

    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
