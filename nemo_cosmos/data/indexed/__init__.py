"""Indexed output: Megatron ``.bin``/``.idx`` datasets written with megatron-core's builder
(``writer``: parts, atomic publish, merge), read back (``reader``, ``megatron_dataset``),
and described by a JSON sidecar (``sidecar``, ``token_layout``, ``latent_storage``,
``skipped`` records). Import the module you need: only ``writer``, ``reader`` and
``megatron_dataset`` load megatron-core."""
