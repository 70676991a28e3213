"""The ``qa`` command: the core commands here, ``api`` and ``eval`` register their own."""
