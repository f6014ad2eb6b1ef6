"""Sending the messages of ``nemo_cosmos.data`` into the job's NeMo log while a job runs.

The data side logs through the standard ``logging`` module (it never imports NeMo), under
``nemo_cosmos.data.*``. Left alone, its info lines are dropped (the root logger's default
level is WARNING) and its warnings are printed bare, or twice once hydra configures the
root logger. During a job they go to NeMo's logger instead, so they appear once, with the
same level, time and format as the job's own lines, and in NeMo's log files.
"""

import contextlib
import logging as std_logging
from collections.abc import Iterator

from nemo.utils import logging as nemo_logging

DATA_LOGGER = "nemo_cosmos.data"


class _ToNemoLogger(std_logging.Handler):
    """Passes each record to NeMo's logger, whose handlers format and write it."""

    def emit(self, record: std_logging.LogRecord) -> None:
        nemo_logging._logger.handle(record)


@contextlib.contextmanager
def data_logs_in_nemo_log() -> Iterator[None]:
    """Route ``nemo_cosmos.data.*`` records (info and above) to NeMo's logger for the duration;
    usable as a decorator. The logger's settings are restored afterwards."""
    logger = std_logging.getLogger(DATA_LOGGER)
    handler, level, propagate = _ToNemoLogger(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(std_logging.INFO)
    logger.propagate = False  # printed once, by NeMo's handlers
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
