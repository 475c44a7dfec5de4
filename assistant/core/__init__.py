"""The bottom layer: the data model, errors, settings, text and numeral utilities.

Everything else may import from here; nothing here imports from any other part of the package
(the prompt loader in ``policy_assistant.prompts`` sits beside it, on the same level).
"""
