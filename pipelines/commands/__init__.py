"""The CLI's subcommands: one module each, with HELP, add_arguments(parser) and run(args, rest)."""

from tunescribe.pipelines.commands import build, estimate, evaluate, filter, inspect, validate

# Order is the order of `tunescribe --help`.
COMMANDS = {"build": build, "estimate": estimate, "evaluate": evaluate, "filter": filter, "inspect": inspect, "validate": validate}
