"""The progress of one rank: a bar over clips and images, with the run's totals beside it.

The bar advances once per entry of the dataset as it is written (a document, i.e. an
encoded clip or image, or a skip record), so its rate is clips per second from the first
clip on. How many entries the rank will write is known only once its inputs are probed,
which happens part by part; the total is therefore estimated from the parts planned so far
(their entries per input, times the inputs still to plan) and firms up as the job goes.
Beside the bar: documents, skipped and tokens of the whole run on this rank, reused parts
included, so the last bar shows what the summary reports.
"""

from typing import Any

from tqdm import tqdm


class ClipProgress:
    """A rank's bar over ``inputs`` inputs' entries; a context manager that closes it."""

    def __init__(self, inputs: int, rank: int, world_size: int, position: int, enabled: bool) -> None:
        self.bar = tqdm(total=None, desc=f"rank {rank}/{world_size}", unit="clip", position=position, disable=not enabled, dynamic_ncols=True)
        self.inputs_left = inputs
        self.planned_inputs = self.planned_entries = 0
        self.documents = self.skipped = self.tokens = 0

    def planned(self, inputs: int, entries: int) -> None:
        """A part of ``inputs`` inputs was planned into ``entries`` entries: re-estimate the total."""
        self.inputs_left -= inputs
        self.planned_inputs += inputs
        self.planned_entries += entries
        per_input = self.planned_entries / self.planned_inputs if self.planned_inputs else 0.0
        self.bar.total = self.planned_entries + round(self.inputs_left * per_input)
        self.bar.refresh()

    def document(self, tokens: int) -> None:
        """An encoded clip or image was written with ``tokens`` tokens (or latent positions)."""
        self.documents += 1
        self.tokens += tokens
        self._advance(1)

    def skip(self) -> None:
        """A skip record was written."""
        self.skipped += 1
        self._advance(1)

    def reused(self, inputs: int, documents: int, skipped: int, tokens: int) -> None:
        """A part finished by an earlier run is kept: its entries count as done."""
        self.planned(inputs, documents + skipped)
        self.documents += documents
        self.skipped += skipped
        self.tokens += tokens
        self._advance(documents + skipped)

    def totals(self) -> dict[str, Any]:
        """What the bar shows beside it: documents, skipped and tokens of the run on this rank."""
        return {"documents": self.documents, "skipped": self.skipped, "tokens": self.tokens}

    def _advance(self, entries: int) -> None:
        self.bar.set_postfix(self.totals(), refresh=False)
        self.bar.update(entries)

    def __enter__(self) -> "ClipProgress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()
