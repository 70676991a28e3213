"""Errors raised by the index package (mapped onto ``qa.errors`` by the engine)."""

from __future__ import annotations


class ParseError(ValueError):
    """A file or record could not be read as an article; the message says why."""


class StoreUnavailable(RuntimeError):
    """The vector store (embedded or server) cannot be reached or used."""
