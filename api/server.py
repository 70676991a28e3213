"""``qa serve``: uvicorn in front of ``create_app``."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.app import create_app
from qa.settings import EmbeddedStore, Settings
from qa.wiring import check_verifier


def app_factory() -> FastAPI:
    """For uvicorn's ``--factory`` (each worker process builds its own app)."""
    return create_app()


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> int:
    """Serve until interrupted. Several workers need a Chroma server (``QA_STORE__KIND=http``):
    an embedded Chroma directory must not be opened by more than one process."""
    import uvicorn

    settings = Settings()
    if workers > 1 and isinstance(settings.store, EmbeddedStore):
        raise ValueError(
            "--workers > 1 needs a Chroma server (QA_STORE__KIND=http): an embedded Chroma"
            " directory cannot be shared by several processes"
        )
    check_verifier(settings)  # a missing or corrupt model file stops here, before uvicorn
    logging.getLogger("api").setLevel(logging.INFO)
    print(f"chat page: http://{host}:{port}/   API docs: http://{host}:{port}/docs", flush=True)
    if workers > 1:
        uvicorn.run("api.server:app_factory", factory=True, host=host, port=port, workers=workers)
    else:
        uvicorn.run(create_app(settings), host=host, port=port)
    return 0
