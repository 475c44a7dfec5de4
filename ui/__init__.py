"""The web interfaces: one FastAPI process with the Gradio chat mounted at ``/``.

``server`` (create_app, serve) wires ``api`` (HTTP routes and the HTTP error
boundary), ``guard`` (size limit, rate limit, API key), ``chat`` (the Gradio
page), ``render`` (escaping and message HTML) and ``feedback`` (👍/👎 JSONL).
Importing this package loads nothing.
"""
