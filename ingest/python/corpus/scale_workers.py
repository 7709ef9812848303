#!/usr/bin/env python3
"""Scale a worker deployment up or down and optionally wait until it settles."""
import subprocess
import time

import click

ENVIRONMENTS = ["staging", "production"]


@click.command(help="Scale a worker deployment.")
@click.argument("deployment")
@click.option("--replicas", "-r", type=int, required=True, help="desired replica count")
@click.option("-n", "--namespace", default="workers", show_default=True, help="Kubernetes namespace")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), default="staging",
              help="cluster to act on")
@click.option("--wait/--no-wait", default=True, help="wait for the rollout to settle")
@click.option("--timeout", default=300, help="seconds to wait")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False),
              envvar="KUBECONFIG", help="kubeconfig file")
@click.option("--label", "-l", "labels", multiple=True, metavar="KEY=VALUE",
              help="extra selector labels (repeatable)")
@click.option("-v", "--verbose", count=True)
def scale(deployment, replicas, namespace, environment, wait, timeout, kubeconfig, labels, verbose):
    cmd = ["kubectl", "--context", environment, "-n", namespace,
           "scale", f"deployment/{deployment}", f"--replicas={replicas}"]
    if kubeconfig:
        cmd += ["--kubeconfig", kubeconfig]
    if verbose:
        click.echo(" ".join(cmd))
    subprocess.run(cmd, check=True)
    if wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(5)


if __name__ == "__main__":
    scale()
