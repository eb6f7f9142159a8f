"""The one place the environment is read: every process builds a `Settings` from it.

`Settings.from_env()` reads the environment (pydantic-settings), checks every value's type and
range and the cross-checks between them, and raises `InvalidSettings` naming the variable and what
it accepts. `load_or_exit()` is what the processes call at start-up: one line on standard error
and exit status 2 instead of a traceback. `python -m settings --check` prints the effective
configuration, secrets masked. `Settings(...)` with keyword arguments reads no environment (tests,
the local command). Each field's description says what its variable accepts.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

GB = 1_000_000_000

# Where the official Dumpus app runs: web, iOS (Capacitor), Android (Capacitor), desktop (Tauri
# on macOS/Linux, then on Windows).
DUMPUS_APP_ORIGINS = (
    "https://web.dumpus.app",
    "capacitor://localhost",
    "https://localhost",
    "tauri://localhost",
    "https://tauri.localhost",
)
BROKER_SCHEMES = ("redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp")
MONGO_SCHEMES = ("mongodb", "mongodb+srv")
# Variables whose value is never printed whole (`--check`, error lines).
SECRET_VARIABLES = frozenset({"SECRET_KEY", "FLOWER_BASIC_AUTH", "METRICS_TOKEN"})
URL_VARIABLES = frozenset({"MONGO_URL", "BROKER_URL", "RATE_LIMIT_STORAGE_URL"})

# The environment `from_env` reads (None: `Settings(...)` reads none, its arguments only).
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("environment", default=None)

CommaList = Annotated[tuple[str, ...], NoDecode]


def _seconds(default: float, description: str, minimum: float = 1, **extra: Any) -> Any:
    return Field(default, ge=minimum, description=description, **extra)


class InvalidSettings(ValueError):
    """A variable with a value it does not accept; `str()` is one line per bad variable."""


class Settings(BaseSettings):
    """Every setting of every process, with its default and what it accepts."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
        validate_by_name=True,
        validate_default=False,
    )

    data_dir: Path = Field(
        Path("var"), description="a directory (made if missing): SQLite store, broker, temp files"
    )
    port: int = Field(8000, ge=1, le=65535, description="the API's TCP port, 1-65535")
    flower_port: int = Field(5555, ge=1, le=65535, description="Flower's TCP port, 1-65535")
    mongo_url: str = Field("", description="a mongodb:// or mongodb+srv:// URL; empty: SQLite")
    mongo_db: str = Field("dumpus", min_length=1, description="a MongoDB database name")
    pii_mongo_url: str = Field(
        "",
        description="a mongodb:// or mongodb+srv:// URL for shoppers' personal information; empty:"
        " the MONGO_URL server's <database>_pii database, or pii.sqlite3 under DATA_DIR",
    )
    broker_url: str = Field(
        "",
        validation_alias=AliasChoices("broker_url", "redis_url"),
        description=f"a broker URL ({', '.join(BROKER_SCHEMES)}); empty: the embedded Redis",
    )
    secret_key: str = Field("", description="the server secret (any text; 32+ random characters)")
    secret_key_file: str = Field("", description="a file holding the server secret")
    link_key_dir_setting: str = Field(
        "",
        validation_alias=AliasChoices("link_key_dir", "link_key_dir_setting"),
        description="a directory for per-package link keys; default DATA_DIR/keys",
    )
    whitelisted_origins: CommaList = Field(
        (),
        validation_alias=AliasChoices("dl_zip_whitelisted_domains", "whitelisted_origins"),
        description="comma-separated http(s)://host[:port] origins package links may point to",
    )
    max_package_bytes: int = Field(50 * GB, ge=1, description="bytes, at least 1")
    max_upload_bytes: int = Field(4 * GB, ge=1, description="bytes of a direct upload, at least 1")
    trash_retention_days: int = Field(30, ge=1, le=3650, description="days, 1-3650")
    trash_purge_interval_seconds: int = Field(
        3600, ge=1, le=86400, description="seconds between beat's trash purges, 1-86400"
    )
    recount_resend_seconds: int = Field(
        60, ge=1, le=86400, description="seconds a pending statistics recount waits, 1-86400"
    )
    meter_anonymous: int = Field(
        0, ge=0, description="bytes per client address and UTC day of anonymous links; 0: none"
    )
    download_connect_timeout: float = Field(10.0, gt=0, description="seconds, more than 0")
    download_read_timeout: float = Field(60.0, gt=0, description="seconds, more than 0")
    download_max_seconds: int = _seconds(4 * 3600, "whole seconds, at least 1")
    package_time_limit: int = _seconds(6 * 3600, "whole seconds, at least 60", 60)
    max_attempts: int = Field(3, ge=1, le=100, description="deliveries, 1-100")
    stale_after_seconds: int = _seconds(120, "whole seconds, at least 1")
    reaper_interval_seconds: int = _seconds(60, "whole seconds, at least 1")
    resend_after_seconds: int = _seconds(1800, "whole seconds, at least 1")
    flower_address: str = Field("127.0.0.1", min_length=1, description="an address to bind")
    flower_basic_auth: str = Field("", description="user:password, several comma-separated")
    rate_limit_submit: str = Field(
        "20/minute;200/hour", description="limits such as 20/minute;200/hour"
    )
    rate_limit_read: str = Field("600/minute", description="limits such as 600/minute")
    rate_limit_storage_url: str = Field(
        "", description="a limits storage URL (redis://, memory://...); default: the broker"
    )
    cors_origins: CommaList = Field(
        DUMPUS_APP_ORIGINS, description='comma-separated scheme://host[:port] origins, or "*"'
    )
    dumpus_app_files: bool = Field(True, description="on or off (1/0, true/false, yes/no)")
    activity_spare_process: bool = Field(True, description="on or off (1/0, true/false, yes/no)")
    dumpus_blob_url_ttl: int = Field(300, ge=1, le=86400, description="seconds, 1-86400")
    trusted_proxies: CommaList = Field(
        (), description="comma-separated proxy addresses or networks (CIDR), or unix"
    )
    jwt_expires_seconds: int = Field(
        3600, ge=60, le=30 * 86400, description="seconds an access token works, 60-2592000"
    )
    audit_enabled: bool = Field(True, description="on or off (1/0, true/false, yes/no)")
    audit_retention_days: int = Field(90, ge=1, le=3650, description="days, 1-3650")
    audit_flush_seconds: float = Field(1.0, gt=0, le=60, description="seconds, more than 0, <= 60")
    audit_buffer_max: int = Field(100_000, ge=100, description="records, at least 100")
    audit_fold_seconds: int = Field(30, ge=1, le=3600, description="whole seconds, 1-3600")
    events_batch_max: int = Field(
        10_000, ge=1, le=100_000, description="events per POST /api/events, 1-100000"
    )
    events_body_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, le=1024**3, description="bytes of a POST /api/events body"
    )
    event_data_max_bytes: int = Field(
        16 * 1024, ge=2, le=1024 * 1024, description="bytes of one event's data, 2-1048576"
    )
    events_fold_seconds: int = Field(2, ge=1, le=3600, description="whole seconds, 1-3600")
    events_fold_batch: int = Field(
        10_000, ge=100, le=1_000_000, description="events counted per fold step, 100-1000000"
    )
    daily_bandwidth_limit: int = Field(
        100 * 1024 * 1024, ge=1, description="bytes an account may upload per UTC day, at least 1"
    )
    bandwidth_alert_ratio: float = Field(
        0.8, gt=0, le=1, description="share of the daily limit that raises the alert, 0 < r <= 1"
    )
    bandwidth_list_max: int = Field(
        1000, ge=1, le=100_000, description="newest uploads or deletions listed, 1-100000"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)"
    )
    log_format: Literal["text", "json"] = Field("text", description="text or json")
    metrics_enabled: bool = Field(True, description="on or off (1/0, true/false, yes/no)")
    shutdown_grace_seconds: int = Field(
        20, ge=1, le=3600, description="whole seconds a stopping worker gives its packages, 1-3600"
    )
    ready_check_timeout: float = Field(0.5, gt=0, description="seconds per check, more than 0")
    store_retry_after: int = Field(5, ge=1, le=3600, description="whole seconds, 1-3600")
    mongo_server_selection_timeout: float = Field(30.0, gt=0, description="seconds, more than 0")
    mongo_api_server_selection_timeout: float = Field(
        10.0, gt=0, description="seconds, more than 0"
    )
    mongo_connect_timeout: float = Field(10.0, gt=0, description="seconds, more than 0")
    mongo_retry_attempts: int = Field(3, ge=1, le=20, description="calls, 1-20")
    package_retention_days: float = Field(
        0, ge=0, description="days, at least 0 (0 keeps ended packages forever)"
    )
    metrics_token: str = Field(
        "", pattern=r"^[\x21-\x7e]*$", description="printable ASCII without spaces, or empty"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of the environment (`os.environ` by default); InvalidSettings if bad."""
        reset = _ENVIRONMENT.set(os.environ if env is None else env)
        try:
            return cls()
        except ValidationError as exc:
            raise InvalidSettings(describe(exc)) from None
        finally:
            _ENVIRONMENT.reset(reset)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment `from_env` was given (none for `Settings(...)`)."""
        environ = _ENVIRONMENT.get()
        if environ is None:
            return (init_settings,)
        return (init_settings, _MappingSource(settings_cls, environ))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed, checked like the rest (tests, the local command)."""
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise InvalidSettings(describe(exc)) from None

    # --- what each value accepts ----------------------------------------------------------

    @field_validator("whitelisted_origins", mode="before")
    @classmethod
    def _link_origins(cls, value: Any) -> Any:
        origins = _split(value, lower=True)
        for origin in origins:
            _require_origin(origin, ("http", "https"))
        return origins

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _browser_origins(cls, value: Any) -> Any:
        origins = _split(value, lower=False)  # exact, case-sensitive, as browsers send them
        for origin in origins:
            if origin != "*":
                _require_origin(origin, None)
        return origins or DUMPUS_APP_ORIGINS

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        entries = _split(value, lower=True)
        for entry in entries:
            proxy_entry(entry)
        return entries

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        return _require_scheme(value, BROKER_SCHEMES)

    @field_validator("mongo_url", "pii_mongo_url")
    @classmethod
    def _mongo(cls, value: str) -> str:
        return _require_scheme(value, MONGO_SCHEMES)

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _limits_storage(cls, value: str) -> str:
        from limits.storage import SCHEMES  # the schemes the limits library can open

        return _require_scheme(value, tuple(SCHEMES))

    @field_validator("rate_limit_submit", "rate_limit_read")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("not a rate limit: use forms like 20/minute;200/hour") from None
        return value

    @field_validator("flower_basic_auth")
    @classmethod
    def _flower_users(cls, value: str) -> str:
        for pair in filter(None, value.split(",")):
            user, _, password = pair.partition(":")
            if not user or not password:
                raise ValueError("each entry must look like user:password")
        return value

    @field_validator("data_dir")
    @classmethod
    def _directory(cls, value: Path) -> Path:
        existing = next(p for p in (value.absolute(), *value.absolute().parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{existing} exists and is not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{existing} is not writable by this user")
        return value

    @model_validator(mode="after")
    def _shared_secret_with_mongo(self) -> Settings:
        """Hosts sharing a MongoDB store must share a secret: it cannot be generated here."""
        shared_file = bool(self.secret_key_file) and Path(self.secret_key_file).is_file()
        if self.mongo_url and not self.secret_key and not shared_file:
            raise ValueError(
                "SECRET_KEY, or SECRET_KEY_FILE naming an existing file, is required with "
                "MONGO_URL (every host must share one secret)"
            )
        return self

    # --- derived values -------------------------------------------------------------------

    @property
    def sqlite_path(self) -> Path:
        """The embedded store's database file."""
        return self.data_dir / "dumpus.sqlite3"

    @property
    def pii_sqlite_path(self) -> Path:
        """The embedded shopper vault's own database file (`storage.shoppers`)."""
        return self.data_dir / "pii.sqlite3"

    @property
    def temp_dir(self) -> Path:
        """Where downloads are streamed to while a package is processed."""
        return self.data_dir / "tmp"

    @property
    def app_files_dir(self) -> Path:
        """Where the embedded store keeps the app's encrypted data files."""
        return self.data_dir / "appfiles"

    @property
    def project_files_dir(self) -> Path:
        """Where project files' versions are kept on the local provider (`storage.file_bytes`)."""
        return self.data_dir / "projects"

    @property
    def uploads_dir(self) -> Path:
        """Where direct uploads wait, encrypted, for their worker (`storage.uploads`)."""
        return self.data_dir / "uploads"

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

    def server_secret(self) -> bytes:
        """The server secret: SECRET_KEY, else SECRET_KEY_FILE, else DATA_DIR/secret_key.

        A missing file is generated once, except with MONGO_URL: processes on several hosts share
        the store, and each would generate its own secret.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.secret_key_file) if self.secret_key_file else self.data_dir / "secret_key"
        return _secret_from_file(path.absolute(), may_create=not self.mongo_url)


class _MappingSource(EnvSettingsSource):
    """The environment source of pydantic-settings, over a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items() if value.strip()}


def _split(value: Any, lower: bool) -> tuple[str, ...]:
    if not isinstance(value, str):
        return tuple(value)
    parts = (part.strip().rstrip("/") for part in value.split(","))
    return tuple(part.lower() if lower else part for part in parts if part)


def _require_origin(origin: str, schemes: tuple[str, ...] | None) -> None:
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc or parts.path or parts.query:
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
    if schemes and parts.scheme not in schemes:
        raise ValueError(f"{origin!r}: the scheme must be one of {', '.join(schemes)}")


def proxy_entry(entry: str) -> str:
    """A TRUSTED_PROXIES entry as given, once checked: an address, a network or `unix`."""
    if entry == "unix":
        return entry
    if entry.isdigit():
        raise ValueError(
            f"{entry!r} looks like a hop count; list the proxies' addresses or networks instead "
            "(for example 10.0.0.5,10.1.0.0/16)"
        )
    try:
        ipaddress.ip_network(entry)
    except ValueError as error:
        raise ValueError(f"{entry!r} is not an IP address, a network or 'unix' ({error})") from None
    return entry


def _require_scheme(url: str, schemes: tuple[str, ...]) -> str:
    if url and urlsplit(url).scheme not in schemes:
        raise ValueError(f"the URL scheme must be one of {', '.join(sorted(schemes))}")
    return url


def _variable(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return field.upper()


def _field_of(name: str) -> str | None:
    """The field a validation error names, by its own name or one of its variables."""
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else ()
        if name == field or name in names:
            return field
    return None


def _masked(variable: str, value: Any) -> str:
    """A value fit to print: secrets hidden, a URL's password hidden."""
    text = ",".join(value) if isinstance(value, tuple) else str(value)
    if not text:
        return ""
    if variable in SECRET_VARIABLES:
        return "(set, hidden)"
    if variable in URL_VARIABLES:
        parts = urlsplit(text)
        if parts.password:
            return text.replace(f":{parts.password}@", ":***@", 1)
    return text


def describe(error: ValidationError) -> str:
    """One line per rejected variable: its name, the value (masked) and what it accepts."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]).lower() if problem["loc"] else ""
        field = _field_of(name)
        message = str(problem["msg"]).removeprefix("Value error, ")
        if field is None:
            lines.append(f"invalid configuration: {message}")
            continue
        variable = _variable(field)
        accepts = Settings.model_fields[field].description
        shown = _masked(variable, problem.get("input", ""))
        lines.append(f"invalid {variable}={shown!r}: {message} (accepts {accepts})")
    return "\n".join(lines)


def load_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    """The settings, or exit status 2 with the reason on standard error (process start-up)."""
    try:
        return Settings.from_env(env)
    except InvalidSettings as exc:
        for line in str(exc).splitlines():  # one line per refused variable, each marked
            print(f"dumpus: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def effective_configuration(settings: Settings) -> Iterator[str]:
    """`VARIABLE=value` for every setting, secrets masked, then what they resolve to."""
    for field, value in settings.model_dump().items():
        variable = _variable(field)
        yield f"{variable}={_masked(variable, value)}"
    yield f"# store: {'MongoDB' if settings.mongo_url else f'SQLite {settings.sqlite_path}'}"
    yield f"# broker: {_masked('BROKER_URL', settings.effective_broker_url)}"
    yield f"# link keys: {settings.link_key_dir}"
    secret_source = (
        "SECRET_KEY"
        if settings.secret_key
        else settings.secret_key_file or settings.data_dir / "secret_key"
    )
    yield f"# server secret from: {secret_source}"


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


def main(argv: list[str]) -> int:
    """`python -m settings --check`: the effective configuration, or why it is refused."""
    if argv != ["--check"]:
        print("usage: python -m settings --check", file=sys.stderr)
        return 2
    settings = load_or_exit()
    print("\n".join(effective_configuration(settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
