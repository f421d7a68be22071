"""Features: the functions that turn dialogues and media into model inputs.

The same functions serve training and inference, so preprocessing cannot drift. Import the
submodules directly (`telme.features.text`, `.audio`, `.video`, `.profiles`); nothing heavy loads
when this package is imported.
"""
