"""HTTP API (FastAPI), OpenAI-compatible endpoint and web chat page over the engine."""
