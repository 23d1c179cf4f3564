"""The ``multilevel`` command: fit lme4-style models, run the lesson demo, manage datasets.

Exit status: 0 when all went well, 1 for a model or data error (a message ``error: ...`` on
stderr), 2 for a usage error (bad options). ``--debug`` adds the Python traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from ..errors import MultilevelError
from . import datasets_cmd, demo_cmd, fit_cmd, report_cmd
from ._common import one_line, split_formula_hint

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

DESCRIPTION = "Multilevel (mixed-effects) models for Python, with the results of R's lme4."

EPILOG = """\
examples:
  multilevel demo
  multilevel fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
  multilevel fit "math ~ homework + (homework | schnum)" --data imm10.csv --ml --format json
  multilevel report --data imm10.csv --formula "math ~ homework + (1 | schnum)" -o report.html
  multilevel datasets list

Run 'multilevel COMMAND --help' for a command's options.
exit status: 0 ok, 1 model or data error, 2 usage error.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``error: ...``, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("multilevel")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``multilevel`` command with all subcommands."""
    parser = _Parser(
        prog="multilevel",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"multilevel {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback when something fails")
    # The same flag after the subcommand; SUPPRESS keeps it from overwriting the one above.
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback when something fails")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND",
                                       required=True,
                                       parser_class=_Parser)
    for module in (fit_cmd, report_cmd, demo_cmd, datasets_cmd):
        module.add_parser(subparsers, [common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``multilevel`` command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 1 for a model or data error, 2 for a usage error.

    Examples
    --------
    >>> main(["datasets", "list"])  # doctest: +ELLIPSIS
    cake ...
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        hint = split_formula_hint(argv, extras)
        if hint:  # an unquoted formula, split by the shell: say to quote it
            print(f"error: {one_line(hint)}", file=sys.stderr)
            return EXIT_USAGE
        parser.parse_args(argv)  # argparse's own message for other stray arguments
    try:
        return args.func(args)
    except MultilevelError as exc:
        return _fail(args, one_line(str(exc)))
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. `| head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's exit-time flush stays quiet
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a message
        what = one_line(f"{type(exc).__name__}: {exc}")
        hint = "" if args.debug else " (run again with --debug for the traceback)"
        return _fail(args, f"internal error, please report it: {what}{hint}")


def _fail(args: argparse.Namespace, message: str) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
