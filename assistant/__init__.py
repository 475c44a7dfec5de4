"""The policy assistant: answers questions about policy documents, quoting and citing their items."""
__version__ = "0.1.0"
