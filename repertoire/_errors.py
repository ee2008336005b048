"""Errors a user can cause and fix in their input."""


class InputError(ValueError):
    """A problem in the user's input: a file, sample, column or key named in the message.

    The command line prints the message alone (no traceback) and exits non-zero.
    """


def reason(error: BaseException) -> str:
    """Return what a parser's exception says, on one line (its type when it says nothing)."""
    return " ".join(str(error).split()) or type(error).__name__
