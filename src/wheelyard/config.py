"""Settings: one typed object read from ``WHEELYARD_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from wheelyard.errors import InvalidInput

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Parse ``1G``, ``300M``, ``4096`` (binary units) into bytes."""
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    number = raw[: len(raw) - len(unit)]
    try:
        value = int(float(number) * _UNITS[unit])
    except ValueError:
        raise InvalidInput(
            f"not a size: {text!r} (use e.g. 1G, 300M or a number of bytes)"
        ) from None
    if value <= 0:
        raise InvalidInput(f"size must be positive: {text!r}")
    return value


def _number(env: dict[str, str], name: str, default: float, kind: type = int) -> float:
    """A positive number from ``env[name]``; a clear error names the variable."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, not {text!r}") from None
    if value <= 0:
        raise InvalidInput(f"{name} must be positive, not {text!r}")
    return value  # type: ignore[no-any-return]


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` from ``env[name]`` (the first when unset); a clear error otherwise."""
    text = (env.get(name) or choices[0]).strip().lower()
    if text not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}, not {text!r}")
    return text


def _folder(text: str | None) -> Path | None:
    return Path(text).absolute() if text else None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    max_upload: int
    host: str = "127.0.0.1"
    port: int = 8000
    # Bounded resources: every request body, header block and connection has a ceiling.
    max_json: int = 64 * 1024
    max_form_parts: int = 1000
    max_form_field: int = 1024 * 1024
    max_header: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0  # longest pause while a request body arrives
    keep_alive: float = 5.0
    max_connections: int = 1000
    # Failed-authentication throttle: distinct bad credentials per window, per client / user.
    auth_failures_per_client: int = 30
    auth_failures_per_user: int = 10
    auth_window: float = 300.0
    # Unreferenced blobs younger than this are in flight; `check --repair` collects older ones.
    blob_grace: float = 3600.0
    # A single-file delete (the Anaconda client's DELETE /dist) takes effect after this delay.
    removal_delay: float = 60.0
    # Where uploads are staged before publishing; None: chosen from the storage URL.
    staging_dir: Path | None = None
    # Who may read /-/metrics (off | public | token; the rule is yard.access.may_read_metrics).
    metrics: str = "off"  # opt-in: measuring halves req/s at low concurrency (bench)
    # Access log lines: "text" (uvicorn's) or "json" (one object per request, web/accesslog.py).
    log_format: str = "text"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("WHEELYARD_DATA_DIR") or "wheelyard-data").absolute()
        return cls(
            data_dir=data_dir,
            database_url=env.get("WHEELYARD_DATABASE_URL") or f"sqlite:///{data_dir / 'yard.db'}",
            storage_url=env.get("WHEELYARD_STORAGE_URL") or str(data_dir / "files"),
            max_upload=parse_size(env.get("WHEELYARD_MAX_UPLOAD") or "1G"),
            host=env.get("WHEELYARD_HOST") or "127.0.0.1",
            port=int(env.get("WHEELYARD_PORT") or 8000),
            max_json=parse_size(env.get("WHEELYARD_MAX_JSON") or "64K"),
            max_form_parts=int(_number(env, "WHEELYARD_MAX_FORM_PARTS", 1000)),
            max_form_field=parse_size(env.get("WHEELYARD_MAX_FORM_FIELD") or "1M"),
            max_header=parse_size(env.get("WHEELYARD_MAX_HEADER") or "64K"),
            header_timeout=_number(env, "WHEELYARD_HEADER_TIMEOUT", 10.0, float),
            body_timeout=_number(env, "WHEELYARD_BODY_TIMEOUT", 60.0, float),
            keep_alive=_number(env, "WHEELYARD_KEEP_ALIVE", 5.0, float),
            max_connections=int(_number(env, "WHEELYARD_MAX_CONNECTIONS", 1000)),
            auth_failures_per_client=int(_number(env, "WHEELYARD_AUTH_FAILURES_PER_CLIENT", 30)),
            auth_failures_per_user=int(_number(env, "WHEELYARD_AUTH_FAILURES_PER_USER", 10)),
            auth_window=_number(env, "WHEELYARD_AUTH_WINDOW", 300.0, float),
            blob_grace=_number(env, "WHEELYARD_BLOB_GRACE", 3600.0, float),
            removal_delay=_number(env, "WHEELYARD_REMOVAL_DELAY", 60.0, float),
            staging_dir=_folder(env.get("WHEELYARD_STAGING_DIR")),
            metrics=_choice(env, "WHEELYARD_METRICS", ("off", "public", "token")),
            log_format=_choice(env, "WHEELYARD_LOG_FORMAT", ("text", "json")),
        )

    @property
    def staging(self) -> Path:
        """The staging folder (by default next to a local store's blobs; see storage)."""
        from wheelyard.storage import default_staging_dir

        return self.staging_dir or default_staging_dir(self.storage_url, self.data_dir)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
