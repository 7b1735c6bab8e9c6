"""`tunescribe COMMAND ...`: the command-line entry point; each command is in pipelines/commands/."""

from __future__ import annotations

import argparse
import logging
import sys

from tunescribe.pipelines.commands import COMMANDS, EXIT_CODES, EXIT_CONFIG, command
from tunescribe.pipelines.config import ConfigError


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named on the command line, found before parsing so only its module loads."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="tunescribe", description="Build music-text corpora.", epilog="exit codes: "
                                     + " · ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()))
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress logging")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = _chosen(argv)
    for name, help_ in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            command(name).add_arguments(subparser)
    args, rest = parser.parse_known_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("tunescribe").setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return command(args.command).run(args, rest)
    except ConfigError as exc:
        print(f"tunescribe: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
