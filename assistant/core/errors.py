"""User-facing errors.

Every failure a user should read as a sentence derives from ``AssistantError``.
Each interface converts it at exactly one boundary: the CLI prints the message
on one line and exits with ``exit_code``; the Gradio app raises ``gr.Error``;
the HTTP API answers ``status`` with a JSON body. Anything else is a bug and
keeps its traceback. This module only defines the classes.
"""


class AssistantError(Exception):
    """A problem the user can act on. ``exit_code`` follows the CLI contract."""

    exit_code = 2
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(AssistantError):
    """The question, a flag or a file given by the user cannot be used."""

    status = 422


class IndexUnusable(AssistantError):
    """The index is missing, corrupt, foreign or was built with another embedder."""

    status = 503


class IndexBusy(AssistantError):
    """Another build holds the index lock."""

    status = 409


class PartialFailure(AssistantError):
    """Some of the work was done, some not (e.g. files that could not be indexed)."""

    exit_code = 1
    status = 207


class ModelUnavailable(AssistantError):
    """An embedding model or LLM could not be loaded or reached."""

    status = 503
