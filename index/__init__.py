"""Articles -> chunks -> Chroma + BM25, and hybrid retrieval over them.

Knows nothing of answering, HTTP or Slack. Types that leave this package are its own
frozen dataclasses (``Article``, ``Chunk``, ``Passage``), never Chroma or llama-index objects.
"""
