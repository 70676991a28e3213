"""Errors raised by the index package (translated into ``qa.errors`` where ``qa`` calls it).
Bad arguments (an empty query, ``k < 1``, reversed dates) are ``ValueError``."""

from __future__ import annotations


class ParseError(ValueError):
    """A file or record could not be read as an article; the message says why."""


class StoreUnavailable(RuntimeError):
    """The vector store (embedded or server) cannot be reached or used."""


class EmbedderError(RuntimeError):
    """The embedding model could not be loaded or failed on its input."""
