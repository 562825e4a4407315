"""One root for every error the SOC raises on purpose.

Hierarchy (in the style of httpx and pySigma)::

    SocError                      root; carries an optional source (file, address) and line
    ├── ConfigError               bad settings file, bad asset inventory, bad CLI arguments
    ├── InputError                unusable input file or directory (soc detect, collectors)
    ├── ParseError                a raw record no parser could turn into an ECS event  -> DLQ
    ├── RuleError                 a Sigma rule that cannot be loaded or compiled
    ├── ModelError                an anomaly model file that cannot be loaded, trusted or used
    ├── BusError                  the event bus (embedded or Kafka)
    │   └── BusUnavailable        the bus cannot be reached now: spool and retry
    ├── StoreError                the event store or database
    │   └── StoreUnavailable      the store cannot be reached now: retry, do not commit offsets
    └── AuthError                 authentication or authorisation failures
"""

from __future__ import annotations


class SocError(Exception):
    """Root of all SOC errors. ``source`` and ``line`` say where the problem came from."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
            where += ": "
        return f"{where}{self.message}"


class ConfigError(SocError):
    """Bad configuration: settings file, asset inventory, CLI arguments."""


class InputError(SocError):
    """Unusable input (missing file, unknown format, unreadable directory)."""


class ParseError(SocError):
    """A raw record that could not be parsed; the record goes to the dead-letter topic."""


class RuleError(SocError):
    """A detection rule that could not be loaded, validated or compiled."""


class ModelError(SocError):
    """An anomaly model file that is unreadable, not a model, holds untrusted types or expects other features."""


class BusError(SocError):
    """Failure of the event bus."""


class BusUnavailable(BusError):
    """The bus cannot be reached right now; callers spool or retry."""


class StoreError(SocError):
    """Failure of the event store or the database."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; callers retry and must not commit offsets."""


class AuthError(SocError):
    """Authentication or authorisation failure."""
