"""Settings: one typed object read from ``WHEELYARD_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from wheelyard.yard.errors import InvalidInput

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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    max_upload: int
    host: str = "127.0.0.1"
    port: int = 8000

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
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
