"""Silencing the notices of other libraries that a user of our entry points cannot act on.

Importing NeMo and megatron-core, and starting a ``hydra_runner`` job, print notices about
their own optional parts, not about the user's work: megatron-core's fallbacks when
Transformer Engine and Apex are absent, NeMo's OneLogger telemetry set-up, hydra's future
working-directory default (NeMo's runner pins the directory), and megatron-core's
progress lines each time it opens an index (once per part at merge). Each is matched by
its exact message or logger, so every other warning still shows. Warnings are matched by
message and never by category: NeMo's warning capture drops every warning of a category
once any ``ignore`` filter names that category (see DESIGN.md).

Entry points (recipes, the ``nemo-cosmos`` command, ``from nemo_cosmos import
CausalVideoTokenizer``) call :func:`quiet_library_notices` before they import NeMo;
importing ``nemo_cosmos`` alone changes no filter.
"""

import logging
import warnings

# Regular expressions matched at the start of a warning's message (re.match, case-insensitive).
UNACTIONABLE_WARNINGS = (
    r"Transformer Engine and Apex are not installed",  # megatron-core: optional fused kernels, torch fallback used
    r"Future Hydra versions will no longer change working directory",  # NeMo's hydra_runner sets the directory itself
)

# Logger name -> the start of the messages of that logger that are dropped.
UNACTIONABLE_LOG_MESSAGES = {
    "nv_one_logger.api.config": "OneLogger: Setting error_handling_strategy",
    "nv_one_logger.training_telemetry.api.training_telemetry_provider": "No exporters were provided",
}

# Loggers whose info and debug lines are progress chatter; their warnings and errors still show.
CHATTY_LOGGERS = ("megatron.core.datasets.indexed_dataset",)


class _DropMessages(logging.Filter):
    """Drops the records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DropMessages) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)


def quiet_library_notices() -> None:
    """Install the filters above; calling it again changes nothing."""
    for message in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=message)  # no category: see the module docstring
    for name, prefix in UNACTIONABLE_LOG_MESSAGES.items():
        logger = logging.getLogger(name)
        if _DropMessages(prefix) not in logger.filters:
            logger.addFilter(_DropMessages(prefix))
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET included: the root logger is often at INFO in jobs
            logger.setLevel(logging.WARNING)
