"""`s2c topics create`: create every topic the pipeline declares (idempotent); on the secured
stack (S2C_SECURE=1) as the admin, granting the roles their ACLs on them too."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create", "list"])


def run(args: argparse.Namespace) -> int:
    from s2c.streams.acls import grant_namespace
    from s2c.streams.admin import create_topics, partition_counts
    from s2c.streams.settings import Settings
    from s2c.streams.topics import declare

    settings = Settings.from_env().role_unless_given("admin")
    topics = declare(settings)
    if args.action == "create":
        created = create_topics(settings, topics.all())
        print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")
        if grant_namespace(settings):  # the secured stack: the roles' ACLs on these topics
            print(f"granted the roles' ACLs on {settings.topic_prefix}.* and {settings.app_id}")
    counts = partition_counts(settings, [t.name for t in topics.all()])
    for spec in topics.all():
        print(
            f"{spec.name:32} partitions={counts.get(spec.name, 'missing')}"
            f"{'  compacted' if spec.compacted else ''}  key={spec.key}"
        )
    return 0
