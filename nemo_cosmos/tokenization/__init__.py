"""The dataset tokenization job behind ``recipes/tokenize_dataset.py``.

It joins the NeMo model (``CausalVideoTokenizer``) and ``nemo_cosmos.data``: options
(``options``), the settings that count (``settings``), input identities and growth
(``inputs``), what ``output.dir`` holds and whether a run may proceed (``output_state``),
what each input becomes (``planning``), batched streaming encoding (``encoding``),
documents (``documents``), one part (``part_writer``), parts and the rank queue
(``sharding``), ranks (``distributed``), publishing (``publish``), the per-rank table
(``rank_table``) and warnings (``rank_log``), one-line errors (``errors``), proving a
dataset (``verify``) and the whole job (``job.run_tokenize_job``).
"""
