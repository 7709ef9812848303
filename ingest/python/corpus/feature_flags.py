#!/usr/bin/env python3
"""Toggle feature flags in the flag service from the command line."""
import json
import urllib.request

from click import Choice, argument, command, echo, group, option

STAGES = ("dev", "staging", "prod")


@group()
@option("--service-url", default="http://flags.internal:8080", help="flag service base URL")
@option("--stage", type=Choice(STAGES), default="dev")
def flags(service_url, stage):
    pass


@flags.group()
def rollout():
    """Percentage rollouts."""


@rollout.command("set")
@argument("flag")
@argument("percent", type=float)
@option("--sticky", is_flag=True, help="keep users in their bucket")
def rollout_set(flag, percent, sticky):
    """Roll a flag out to a percentage of users."""
    echo(json.dumps({"flag": flag, "percent": percent, "sticky": sticky}))


@command()
@argument("flag")
@option("--reason", required=True, help="audit log message")
def kill(flag, reason):
    """Turn a flag off everywhere, immediately."""
    req = urllib.request.Request(f"http://flags.internal:8080/flags/{flag}/kill",
                                 data=reason.encode(), method="POST")
    urllib.request.urlopen(req, timeout=10)


flags.add_command(kill, name="kill-switch")


if __name__ == "__main__":
    flags()
