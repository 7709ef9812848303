#!/usr/bin/env python3
"""Drain a backend node from a load balancer pool before maintenance.

The node is set to DRAINING, the script waits for active connections to
reach zero (or the timeout), then marks it DISABLED.
"""
import argparse
import sys
import time

LOAD_BALANCERS = ["haproxy", "nginx", "f5", "aws-alb"]


def connections(lb: str, pool: str, node: str) -> int:
    """Placeholder for the LB admin API call."""
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Drain a node from a load balancer pool.",
        epilog="Exit status is 2 when the node did not drain in time.",
    )
    parser.add_argument("node", help="backend node, host:port")
    parser.add_argument("--lb", choices=LOAD_BALANCERS, default="haproxy",
                        help="load balancer flavour")
    parser.add_argument("--pool", required=True, metavar="POOL",
                        help="backend pool the node belongs to")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for connections to drain")
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="set DRAINING and return immediately")
    parser.add_argument("--force", action="store_true",
                        help="disable even if connections remain")
    args = parser.parse_args(argv)

    print(f"[{args.lb}] {args.pool}/{args.node}: DRAINING")
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while connections(args.lb, args.pool, args.node) > 0:
        if time.monotonic() > deadline:
            if not args.force:
                return 2
            break
        time.sleep(5)
    print(f"[{args.lb}] {args.pool}/{args.node}: DISABLED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
