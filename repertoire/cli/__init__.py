"""The ``repertoire`` command: one subcommand per workflow step.

Every subcommand reads its inputs, calls the package's public functions and writes its outputs
atomically, so a user at a terminal and the Snakemake workflow run the same code. Errors in the
user's input (:class:`repertoire.InputError`) are printed as one sentence and exit with status 2;
a step that runs out of memory or disk space says so in one sentence and exits with status 3
(its outputs are not left half-written); a step stopped by Ctrl-C or a scheduler's SIGTERM
removes its unfinished files, says so and exits with 128 plus the signal's number; any other
exception is a bug and keeps its traceback. :data:`STEPS` names the tables and figures of each
step, which the workflow's rules expand.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence

from .. import __version__
from .._errors import InputError
from .._logging import configure
from . import _annotate, _bcr, _niches, _preprocess, _qc, _report, _simulate, _validate
from ._base import FIGURE_FORMATS, Step
from ._bcr import PATIENT_FIGURES
from ._niches import INTERACTION_FIGURES, NICHE_FIGURES, SPATIAL_FIGURES
from ._validate import describe_samplesheet

EXIT_INPUT_ERROR = 2
EXIT_NO_RESOURCES = 3
_MODULES = (_validate, _qc, _preprocess, _annotate, _bcr, _niches, _report, _simulate)
STEPS: dict[str, Step] = {step.name: step for module in _MODULES for step in module.STEPS}

__all__ = [
    "EXIT_INPUT_ERROR", "EXIT_NO_RESOURCES", "FIGURE_FORMATS", "INTERACTION_FIGURES",
    "NICHE_FIGURES", "PATIENT_FIGURES", "SPATIAL_FIGURES", "STEPS", "Step", "build_parser",
    "describe_samplesheet", "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``repertoire`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    The exit status: 0 on success, 2 when the input is at fault, 3 when the step ran out of
    memory or disk space, 128 plus the signal's number when SIGINT or SIGTERM stopped it (the
    reason is printed to stderr as ``error: <one sentence>``).
    """
    args = build_parser().parse_args(argv)
    configure(-1 if args.quiet else args.verbose)
    # receptor data live in awkward arrays by design; the notice would open every log
    warnings.filterwarnings("ignore", message="Support for Awkward Arrays is currently")
    try:
        with _signals_stop_the_step():
            args.run(args)
    except _Stopped as stopped:
        name = signal.Signals(stopped.signum).name
        print(f"error: step '{args.command}' was stopped by {name} before it finished; it left "
              "no file half-written; run it again.", file=sys.stderr)
        return 128 + stopped.signum
    except InputError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except MemoryError:
        print(f"error: step '{args.command}' ran out of memory; run it where more memory is "
              "free (in the workflow: raise the rule's resources mem_mb).", file=sys.stderr)
        return EXIT_NO_RESOURCES
    except OSError as error:
        if not _out_of_disk(error):
            raise
        where = f" writing {error.filename}" if error.filename else ""
        print(f"error: step '{args.command}' ran out of disk space{where}; free some space or "
              "write the outputs elsewhere.", file=sys.stderr)
        return EXIT_NO_RESOURCES
    return 0


class _Stopped(BaseException):
    """A signal stopped the step.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on the way up
    takes it for an error it may handle.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_stop_the_step() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`_Stopped` while the step runs.

    By default SIGTERM, which a scheduler sends at its time limit, ends Python at once, and
    the ``finally`` blocks that remove an unfinished temporary file never run. Raised as an
    exception, it unwinds the step as an error does. The former handlers are put back after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; there the defaults stand
        return

    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    former = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in former.items():
            signal.signal(signum, handler)


def _out_of_disk(error: OSError) -> bool:
    # HDF5 reports a full disk in its message, without an errno
    return error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(error)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``repertoire`` command and its subcommands.

    Returns
    -------
    The parser; each subcommand stores its handler as ``run`` in the parsed namespace.
    """
    parser = argparse.ArgumentParser(
        prog="repertoire",
        description="Single-cell immune repertoire analysis after CD19 CAR-T therapy. "
        "Each subcommand is one step of the cart_reconstitution workflow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    verbosity = common.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="count", default=0, help="log debugging detail to stderr"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="log only warnings and errors to stderr"
    )
    for module in _MODULES:
        module.add(subparsers, common)
    return parser
