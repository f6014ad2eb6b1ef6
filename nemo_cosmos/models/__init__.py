"""The NeMo model (``CausalVideoTokenizer``) and its inference helpers.

``CausalVideoTokenizer`` is imported on first use, so the helpers (padding, tiling,
backends) can be used without loading NeMo.
"""

__all__ = ["CausalVideoTokenizer"]


def __getattr__(name: str):
    if name == "CausalVideoTokenizer":
        from nemo_cosmos.models.causal_video_tokenizer import CausalVideoTokenizer

        return CausalVideoTokenizer
    raise AttributeError(f"module 'nemo_cosmos.models' has no attribute {name!r}")
