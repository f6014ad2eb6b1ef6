"""User errors of a job as one line on stderr and exit status 1, instead of a traceback.

Hydra prints a trimmed traceback for any exception that escapes a task. The job's own
errors (a refused run, a bad option, a missing file) say what is wrong and how to fix it
in their message, so a traceback only buries that line. ``HYDRA_FULL_ERROR=1`` lets the
exception through, with its full traceback, as hydra does for everything else.
"""

import contextlib
import os
import sys
from collections.abc import Iterator

USER_ERRORS = (ValueError, FileNotFoundError)


@contextlib.contextmanager
def one_line_errors(job: str) -> Iterator[None]:
    """Turn a ValueError or FileNotFoundError raised inside into ``<job>: error: <message>`` and exit 1
    (printed by rank 0 only: under torchrun every rank meets the same error)."""
    try:
        yield
    except USER_ERRORS as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if os.environ.get("RANK", "0") == "0":
            print(f"{job}: error: {message} (HYDRA_FULL_ERROR=1 shows the traceback)", file=sys.stderr, flush=True)
        sys.exit(1)
