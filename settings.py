"""The one place the environment is read: every process builds a `Settings` from it.

`celeryconfig.py` turns it into Celery settings; the API's `create_app` takes it (or a test
config); tasks and storage receive it as an argument. Each field documents its variable.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

GB = 1_000_000_000
DISCORD_LINK_ORIGIN = "https://click.discord.com"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    return int(raw) if raw else default


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    return float(raw) if raw else default


def _positive(value: float, name: str) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be greater than 0")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())


def _cors_origins(raw: str) -> tuple[str, ...]:
    # Exact, case-sensitive origins (as browsers send them), or "*".
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


# Where the official Dumpus app runs: web, iOS (Capacitor), Android (Capacitor), desktop (Tauri
# on macOS/Linux, then on Windows).
DUMPUS_APP_ORIGINS = (
    "https://web.dumpus.app",
    "capacitor://localhost",
    "https://localhost",
    "tauri://localhost",
    "https://tauri.localhost",
)
_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Every setting of every process, with its default."""

    data_dir: Path = Path("var")  # DATA_DIR: SQLite store, embedded broker, temp files, secret
    port: int = 8000  # PORT: the API
    flower_port: int = 5555  # FLOWER_PORT
    mongo_url: str = ""  # MONGO_URL: MongoDB store; SQLite under DATA_DIR when empty
    mongo_db: str = "dumpus"  # MONGO_DB
    broker_url: str = ""  # BROKER_URL or REDIS_URL; embedded Redis under DATA_DIR when empty
    secret_key: str = ""  # SECRET_KEY: server secret; else SECRET_KEY_FILE, else DATA_DIR
    secret_key_file: str = ""  # SECRET_KEY_FILE: file holding the secret (made if missing)
    link_key_dir_setting: str = ""  # LINK_KEY_DIR: per-package link keys; default DATA_DIR/keys
    whitelisted_origins: tuple[str, ...] = ()  # DL_ZIP_WHITELISTED_DOMAINS: extra link origins
    max_package_bytes: int = 50 * GB  # MAX_PACKAGE_BYTES: download size cap
    download_connect_timeout: float = 10.0  # DOWNLOAD_CONNECT_TIMEOUT (seconds)
    download_read_timeout: float = 60.0  # DOWNLOAD_READ_TIMEOUT (seconds between bytes)
    download_max_seconds: int = 4 * 3600  # DOWNLOAD_MAX_SECONDS: total download deadline
    package_time_limit: int = 6 * 3600  # PACKAGE_TIME_LIMIT: hard limit of one package task
    max_attempts: int = 3  # MAX_ATTEMPTS: deliveries before a package fails with WORKER_LOST
    stale_after_seconds: int = 120  # STALE_AFTER_SECONDS: silence before the reaper steps in
    reaper_interval_seconds: int = 60  # REAPER_INTERVAL_SECONDS: beat schedule of the reaper
    resend_after_seconds: int = 1800  # RESEND_AFTER_SECONDS: a QUEUED package's message is resent
    flower_address: str = "127.0.0.1"  # FLOWER_ADDRESS: Flower's bind address
    flower_basic_auth: str = ""  # FLOWER_BASIC_AUTH: "user:password[,user2:password2]"
    rate_limit_submit: str = "20/minute;200/hour"  # RATE_LIMIT_SUBMIT: POST /api/process per client
    rate_limit_read: str = "600/minute"  # RATE_LIMIT_READ: status and data reads per client
    rate_limit_storage_url: str = ""  # RATE_LIMIT_STORAGE_URL: default: the Redis broker
    cors_origins: tuple[str, ...] = DUMPUS_APP_ORIGINS  # CORS_ORIGINS: of the /dumpus routes
    dumpus_app_files: bool = True  # DUMPUS_APP_FILES: build the app's data file ("0" turns it off)
    dumpus_blob_url_ttl: int = 300  # DUMPUS_BLOB_URL_TTL: seconds a signed download URL works
    # --- health and store (docs/health-and-store.md) ---
    ready_check_timeout: float = 0.5  # READY_CHECK_TIMEOUT: seconds per /readyz check (> 0)
    store_retry_after: int = 5  # STORE_RETRY_AFTER: Retry-After of a 503 STORE_UNAVAILABLE (>= 1)
    mongo_server_selection_timeout: float = 30.0  # MONGO_SERVER_SELECTION_TIMEOUT: workers (s, > 0)
    mongo_api_server_selection_timeout: float = 10.0  # MONGO_API_SERVER_SELECTION_TIMEOUT: API
    mongo_connect_timeout: float = 10.0  # MONGO_CONNECT_TIMEOUT: one TCP connection (s, > 0)
    mongo_retry_attempts: int = 3  # MONGO_RETRY_ATTEMPTS: calls of a safe-to-repeat op (>= 1)
    package_retention_days: float = 0  # PACKAGE_RETENTION_DAYS: 0 keeps ended packages forever

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from environment variables (defaults for what is unset)."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            data_dir=Path(env.get("DATA_DIR") or d.data_dir),
            port=_int(env, "PORT", d.port),
            flower_port=_int(env, "FLOWER_PORT", d.flower_port),
            mongo_url=env.get("MONGO_URL", ""),
            mongo_db=env.get("MONGO_DB") or d.mongo_db,
            broker_url=env.get("BROKER_URL") or env.get("REDIS_URL") or "",
            secret_key=env.get("SECRET_KEY", ""),
            secret_key_file=env.get("SECRET_KEY_FILE", ""),
            link_key_dir_setting=env.get("LINK_KEY_DIR", ""),
            whitelisted_origins=_origins(env.get("DL_ZIP_WHITELISTED_DOMAINS", "")),
            max_package_bytes=_int(env, "MAX_PACKAGE_BYTES", d.max_package_bytes),
            download_connect_timeout=_float(
                env, "DOWNLOAD_CONNECT_TIMEOUT", d.download_connect_timeout
            ),
            download_read_timeout=_float(env, "DOWNLOAD_READ_TIMEOUT", d.download_read_timeout),
            download_max_seconds=_int(env, "DOWNLOAD_MAX_SECONDS", d.download_max_seconds),
            package_time_limit=_int(env, "PACKAGE_TIME_LIMIT", d.package_time_limit),
            max_attempts=_int(env, "MAX_ATTEMPTS", d.max_attempts),
            stale_after_seconds=_int(env, "STALE_AFTER_SECONDS", d.stale_after_seconds),
            reaper_interval_seconds=_int(env, "REAPER_INTERVAL_SECONDS", d.reaper_interval_seconds),
            resend_after_seconds=_int(env, "RESEND_AFTER_SECONDS", d.resend_after_seconds),
            flower_address=env.get("FLOWER_ADDRESS") or d.flower_address,
            flower_basic_auth=env.get("FLOWER_BASIC_AUTH", ""),
            rate_limit_submit=env.get("RATE_LIMIT_SUBMIT") or d.rate_limit_submit,
            rate_limit_read=env.get("RATE_LIMIT_READ") or d.rate_limit_read,
            rate_limit_storage_url=env.get("RATE_LIMIT_STORAGE_URL", ""),
            cors_origins=_cors_origins(env.get("CORS_ORIGINS", "")) or d.cors_origins,
            dumpus_app_files=env.get("DUMPUS_APP_FILES", "").strip() not in _OFF,
            dumpus_blob_url_ttl=max(1, _int(env, "DUMPUS_BLOB_URL_TTL", d.dumpus_blob_url_ttl)),
            # --- health and store ---
            ready_check_timeout=_positive(
                _float(env, "READY_CHECK_TIMEOUT", d.ready_check_timeout), "READY_CHECK_TIMEOUT"
            ),
            store_retry_after=max(1, _int(env, "STORE_RETRY_AFTER", d.store_retry_after)),
            mongo_server_selection_timeout=_positive(
                _float(env, "MONGO_SERVER_SELECTION_TIMEOUT", d.mongo_server_selection_timeout),
                "MONGO_SERVER_SELECTION_TIMEOUT",
            ),
            mongo_api_server_selection_timeout=_positive(
                _float(
                    env, "MONGO_API_SERVER_SELECTION_TIMEOUT", d.mongo_api_server_selection_timeout
                ),
                "MONGO_API_SERVER_SELECTION_TIMEOUT",
            ),
            mongo_connect_timeout=_positive(
                _float(env, "MONGO_CONNECT_TIMEOUT", d.mongo_connect_timeout),
                "MONGO_CONNECT_TIMEOUT",
            ),
            mongo_retry_attempts=max(1, _int(env, "MONGO_RETRY_ATTEMPTS", d.mongo_retry_attempts)),
            package_retention_days=max(
                0.0, _float(env, "PACKAGE_RETENTION_DAYS", d.package_retention_days)
            ),
        )

    def with_overrides(self, **changes) -> Settings:
        """A copy with some fields changed (tests, the local command)."""
        return replace(self, **changes)

    @property
    def sqlite_path(self) -> Path:
        """The embedded store's database file."""
        return self.data_dir / "dumpus.sqlite3"

    @property
    def temp_dir(self) -> Path:
        """Where downloads are streamed to while a package is processed."""
        return self.data_dir / "tmp"

    @property
    def app_files_dir(self) -> Path:
        """Where the embedded store keeps the app's encrypted data files."""
        return self.data_dir / "appfiles"

    @property
    def link_key_dir(self) -> Path:
        """Where the per-package link keys live (see `storage.link_vault`)."""
        return (
            Path(self.link_key_dir_setting) if self.link_key_dir_setting else self.data_dir / "keys"
        )

    @property
    def embedded_broker_socket(self) -> Path:
        """The Unix socket of the embedded Redis broker."""
        return self.data_dir / "redis.sock"

    @property
    def effective_broker_url(self) -> str:
        """The broker to use: the configured one, else the embedded Redis socket."""
        if self.broker_url:
            return self.broker_url
        return f"redis+socket://{self.embedded_broker_socket.resolve()}"

    @property
    def link_origins(self) -> tuple[str, ...]:
        """Origins a package link may point to: Discord's, then the allow-listed ones."""
        return (DISCORD_LINK_ORIGIN, *self.whitelisted_origins)

    def server_secret(self) -> bytes:
        """The server secret: SECRET_KEY, else SECRET_KEY_FILE, else DATA_DIR/secret_key.

        A missing file is generated once, except with MONGO_URL: processes on several hosts share
        the store, and each would generate its own secret.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.secret_key_file) if self.secret_key_file else self.data_dir / "secret_key"
        return _secret_from_file(path.absolute(), may_create=not self.mongo_url)


@functools.lru_cache(maxsize=16)
def _secret_from_file(path: Path, may_create: bool) -> bytes:
    """The secret in `path` (made first when allowed), read once per process: every request
    of the API needs it, and a failure is not cached."""
    if not path.exists():
        if not may_create:
            raise RuntimeError(
                "SECRET_KEY or an existing SECRET_KEY_FILE is required with MONGO_URL"
            )
        _create_secret_file(path)
    return path.read_text().strip().encode()


def _create_secret_file(path: Path) -> None:
    """Write a new random secret; link() makes it appear whole, and only once across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        tmp.unlink()
