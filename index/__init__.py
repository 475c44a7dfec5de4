"""Ingestion and storage: load policy files, chunk them into items, embed, store in Chroma."""
