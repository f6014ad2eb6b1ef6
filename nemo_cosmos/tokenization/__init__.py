"""The dataset tokenization job behind ``recipes/tokenize_dataset.py``.

It joins the NeMo model (``CausalVideoTokenizer``) and ``nemo_cosmos.data``: options
(``options``), what each input becomes (``planning``), batched streaming encoding
(``encoding``), documents (``documents``), one part (``part_writer``), ranks
(``distributed``) and the whole job (``job.run_tokenize_job``).
"""
