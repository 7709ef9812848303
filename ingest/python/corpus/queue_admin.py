#!/usr/bin/env python3
"""Administer the job queues: inspect, purge and requeue dead letters."""
import click


class QueueName(click.ParamType):
    """Queue names are lower case and may not contain spaces."""

    name = "queue"

    def convert(self, value, param, ctx):
        if " " in value:
            self.fail(f"{value!r} contains a space", param, ctx)
        return value.lower()


@click.group()
@click.option("--broker", default="amqp://localhost:5672", help="broker URL")
@click.option("--verbose", is_flag=True, help="log every API call")
@click.pass_context
def cli(ctx, broker, verbose):
    """Queue administration for the job system.

    Every sub-command talks to the broker given with --broker.
    """
    ctx.obj = {"broker": broker, "verbose": verbose}


@cli.command("list")
@click.option("--empty/--no-empty", default=False, help="include empty queues")
@click.pass_obj
def list_queues(obj, empty):
    """List queues and their depth."""
    click.echo(f"listing queues on {obj['broker']} (empty={empty})")


@cli.command()
@click.argument("queue", type=QueueName())
@click.option("--older-than", type=click.IntRange(min=0), default=0,
              help="only purge messages older than this many minutes")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def purge(obj, queue, older_than, yes):
    """Delete messages from a queue."""
    if yes or click.confirm(f"purge {queue}?"):
        click.echo(f"purged {queue}")


@cli.command(help="Move dead letters back onto their queues.")
@click.argument("message_ids", nargs=-1)
@click.option("--rate", type=float, default=10.0, help="messages per second")
@click.option("--dlq", default="dead-letters", help="dead letter queue name")
@click.pass_obj
def requeue_dead(obj, message_ids, rate, dlq):
    for message_id in message_ids:
        click.echo(f"requeue {message_id} from {dlq}")


if __name__ == "__main__":
    cli()
