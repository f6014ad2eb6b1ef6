"""Warnings from every rank, prefixed with the rank.

NeMo's logger prints on global rank 0 only, so a skip on rank 3 would never reach the
log. These go to stderr from every rank, in NeMo's format with ``rank N`` added.
"""

import logging
import os
import sys

_logger = logging.getLogger("nemo_cosmos.tokenization.ranks")
if not _logger.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("[NeMo %(levelname).1s %(asctime)s rank %(rank)s] %(message)s", "%Y-%m-%d %H:%M:%S"))
    _logger.addHandler(_handler)
    _logger.propagate = False
    _logger.setLevel(logging.INFO)


def rank_warning(message: str) -> None:
    """Log ``message`` as a warning on this rank, whichever it is."""
    _logger.warning(message, extra={"rank": os.environ.get("RANK", "0")})
