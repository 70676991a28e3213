"""The exception tree of the service. Every class has a stable ``code``.

    QAError                      code
    ├── InputError               bad_input         (a caller's mistake: 4xx / CLI exit 2)
    │   ├── NotFound             not_found
    │   └── UnsupportedFile      unsupported_file
    ├── BackendUnavailable       backend_unavailable (store, embedder or generator down: 503)
    │   └── GeneratorUnavailable generator_unavailable
    └── GeneratorTimeout         generator_timeout (504)

"Nothing relevant found" is not an error: it is an answer with status insufficient_evidence.
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


class GeneratorUnavailable(BackendUnavailable):
    code = "generator_unavailable"


class GeneratorTimeout(QAError):
    code = "generator_timeout"
