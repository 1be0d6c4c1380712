"""The base of the ``realtime_*`` management commands: options accepted wherever people type
them, and a ``--help`` that ends with examples and the exit codes."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from django.core.management.base import BaseCommand, CommandParser, DjangoHelpFormatter

EXIT_CODES = """\
exit codes:
  0  done (every node answered, when the command waits for answers)
  1  failed: invalid input, no Redis node configured, no live server node, or a node
     that did not answer or apply the change; the reason is printed on stderr
  2  the command line itself is wrong (unknown option, missing argument)"""


class ExamplesHelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, with the description and the examples printed as written."""


def accept_options_after_subcommand(parser: argparse.ArgumentParser) -> None:
    """Let every option of ``parser`` also follow its sub-command.

    ``argparse`` reads an option only before the sub-command name unless the sub-parser
    declares it too; ``realtime_emit server reindex --json`` would then fail. Each
    sub-parser gets a copy of every option it does not have, whose default is
    ``SUPPRESS`` so that an option given before the sub-command is not reset.
    """
    shared = [
        action
        for action in parser._actions  # argparse has no public list of a parser's options
        if action.option_strings
        and not isinstance(action, argparse._HelpAction | argparse._VersionAction)
    ]
    for group in parser._actions:
        if not isinstance(group, argparse._SubParsersAction):
            continue
        for sub in group.choices.values():
            taken = {option for action in sub._actions for option in action.option_strings}
            for action in shared:
                if taken.isdisjoint(action.option_strings):
                    clone = copy.copy(action)
                    clone.default = argparse.SUPPRESS
                    clone.required = False
                    sub._add_action(clone)


class ClusterCommand(BaseCommand):
    """A command that talks to the live server nodes: examples in ``--help``, options
    accepted before or after a sub-command."""

    #: Example command lines, shown at the end of ``--help``.
    examples = ""
    # System checks are about server nodes (e.g. their server names); a command talking to
    # the cluster would only repeat them on every run.
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Django's parser, with the examples and exit codes as its epilog."""
        kwargs.setdefault("formatter_class", ExamplesHelpFormatter)
        kwargs.setdefault("epilog", f"examples:\n{self.examples.rstrip()}\n\n{EXIT_CODES}")
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        accept_options_after_subcommand(parser)
        return parser

    def add_subcommand(
        self, subparsers: Any, name: str, help_text: str, example: str
    ) -> CommandParser:
        """A sub-command whose own ``--help`` shows its example."""
        return subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}\n\n{EXIT_CODES}",
            formatter_class=ExamplesHelpFormatter,
        )
