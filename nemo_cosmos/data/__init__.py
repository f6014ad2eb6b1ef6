"""Both ends of the pipeline, kept apart: ``data.media`` reads what goes in (finding inputs,
decoding images and video, pixels, frame geometry, clip sampling) and ``data.indexed``
writes and reads what comes out (Megatron indexed datasets, their sidecars, parts and
merges). ``data.token_file`` holds the CLI's per-file token files.

Nothing here imports NeMo; megatron-core is imported only by the modules of
``data.indexed`` that write or read indexed data.
"""
