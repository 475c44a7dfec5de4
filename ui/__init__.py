"""The web interfaces: one FastAPI process with the Gradio chat mounted at ``/``.

``server`` (create_app, serve) wires ``api`` (HTTP routes and the HTTP error
boundary), ``guard`` (size limit, rate limit, API key), ``chat`` (the Gradio
page), ``render`` (escaping and message HTML), ``conversations`` (the SQLite
conversation log), ``admin`` and ``documents`` (the staff console) and
``viewer`` (the public ``/doc`` pages).
Importing this package loads nothing.
"""
