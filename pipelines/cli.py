"""`tunescribe COMMAND ...`: the command-line entry point; each command is in pipelines/commands/."""

from __future__ import annotations

import argparse
import logging
import sys

from tunescribe.pipelines.commands import COMMANDS
from tunescribe.pipelines.config import ConfigError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tunescribe", description="Build music-text corpora.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    args, rest = parser.parse_known_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("tunescribe").setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return COMMANDS[args.command].run(args, rest)
    except ConfigError as exc:
        print(f"tunescribe: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
