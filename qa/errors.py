"""The exception tree of the service. Every class has a stable ``code``; the API maps each
branch to one status (``api/errors.py``), the CLI to one exit status.

    QAError                          code
    ├── InputError                   bad_input             (a caller's mistake: 4xx / exit 2)
    │   ├── NotFound                 not_found             (404)
    │   └── UnsupportedFile          unsupported_file      (415)
    ├── BackendUnavailable           backend_unavailable   (a part is down: 503 / exit 3)
    │   ├── ArchiveUnavailable       store_unavailable     (Chroma)
    │   ├── EmbedderUnavailable      embedder_unavailable  (the embedding model)
    │   ├── VerifierUnavailable      verifier_unavailable  (the verifier model file)
    │   ├── SourceUnavailable        fetch_failed          (a feed or page could not be fetched)
    │   └── GeneratorUnavailable     generator_unavailable (a model or its server)
    │       └── ModelCrashed         model_crashed         (the local model's process died)
    └── GeneratorTimeout             generator_timeout     (504)

Errors of the index package (``index.errors``) are translated into this tree where ``qa``
calls it (``qa.archive``, ``qa.search``). "Nothing relevant found" is not an error: it is an
answer with status ``insufficient_evidence``.
"""

from __future__ import annotations


class QAError(Exception):
    code = "error"


class InputError(QAError):
    code = "bad_input"


class NotFound(InputError):
    code = "not_found"


class UnsupportedFile(InputError):
    code = "unsupported_file"


class BackendUnavailable(QAError):
    code = "backend_unavailable"


class ArchiveUnavailable(BackendUnavailable):
    code = "store_unavailable"


class EmbedderUnavailable(BackendUnavailable):
    code = "embedder_unavailable"


class VerifierUnavailable(BackendUnavailable):
    code = "verifier_unavailable"


class SourceUnavailable(BackendUnavailable):
    code = "fetch_failed"


class GeneratorUnavailable(BackendUnavailable):
    code = "generator_unavailable"


class ModelCrashed(GeneratorUnavailable):
    """The local model's process died while answering."""

    code = "model_crashed"


class GeneratorTimeout(QAError):
    code = "generator_timeout"
