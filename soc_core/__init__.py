"""Shared core of the provincial SOC: models, topics, serialisation, settings, errors, bus and store interfaces.

Every other package may import ``soc_core``; ``soc_core`` imports none of them.
"""

__version__ = "0.1.0"
