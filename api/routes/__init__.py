"""The API's routers: answers (ask, chat, search), the OpenAI-compatible endpoint, documents,
operations (health, readiness, metrics) and the web chat page."""
