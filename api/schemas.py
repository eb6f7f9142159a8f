"""Request and response models: they validate path, query and body, and make the OpenAPI doc.

A field that fails with a *coded* validator reports its own error code (`INVALID_PERIOD`,
`UNKNOWN_GUILD`, ...) instead of the generic `INVALID_REQUEST`; `api.errors` turns the code into
the HTTP answer (404 for `UNKNOWN_*`, else 400). Response bodies are built as plain dicts; the
response models document them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

PACKAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
SNOWFLAKE_PATTERN = r"^[0-9]{1,32}$"
GUILD_ID_PATTERN = r"^(?:[0-9]{1,32}|unknown)$"
PERIODS = ("l4w", "l1m", "ly", "lifetime")
TOP_TYPES = ("dms", "guilds", "channels")
MAX_OFFSET = 1_000_000_000


def coded(code: str, message: str) -> WrapValidator:
    """A validator that reports any failure of the wrapped type as `code`."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(code, message) from None

    return WrapValidator(check)


def _snowflake(code: str, what: str, pattern: str = SNOWFLAKE_PATTERN) -> tuple[Any, ...]:
    """The Annotated metadata of a snowflake path field (`Annotated[str, *_snowflake(...)]`)."""
    return (
        StringConstraints(pattern=pattern),
        coded(code, f"no such {what} in this package"),
        Field(description=f"The {what} id (a Discord snowflake)"),
    )


PackageId = Annotated[
    str,
    StringConstraints(pattern=PACKAGE_ID_PATTERN),
    coded("UNKNOWN_PACKAGE_ID", "no package has this id"),
    Field(description="The package id: md5 of the UPN, 32 lowercase hex digits"),
]
Period = Annotated[
    Literal["l4w", "l1m", "ly", "lifetime"],
    coded("INVALID_PERIOD", "period must be one of l4w, l1m, ly, lifetime"),
    Field(description="l4w: last 28 days, l1m: last 30 days, ly: last 365 days, lifetime"),
]
TopType = Annotated[
    Literal["dms", "guilds", "channels"],
    coded("INVALID_TYPE", "type must be one of dms, guilds, channels"),
]
GuildId = Annotated[str, *_snowflake("UNKNOWN_GUILD", "server", GUILD_ID_PATTERN)]
DmUserId = Annotated[str, *_snowflake("UNKNOWN_DM", "DM person (user id or DM channel id)")]
ChannelId = Annotated[str, *_snowflake("UNKNOWN_CHANNEL", "channel")]
UserId = Annotated[str, *_snowflake("UNKNOWN_USER", "user")]


# -- requests -------------------------------------------------------------------------------------


class ProcessBody(BaseModel):
    """The package link to process."""

    package_link: str = Field(description="The Discord data-package link (or an allowed origin's)")

    @model_validator(mode="wrap")
    @classmethod
    def _any_failure_is_an_invalid_link(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError:
            raise PydanticCustomError("INVALID_LINK", "package_link is missing") from None


class ProcessLinkPath(BaseModel):
    package_link: str = Field(description="The package link, URL-encoded")


class PackagePath(BaseModel):
    package_id: PackageId


class PeriodPath(PackagePath):
    period: Period


class TopPath(PeriodPath):
    type: TopType


class TopQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100, description="Entries per page, 1 to 100")
    # Bounded so the echoed offset stays a JSON-safe integer (and no list is that long).
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Entries to skip")


class GuildPath(PeriodPath):
    guild_id: GuildId


class DmPath(PeriodPath):
    user_id: DmUserId


class ChannelPath(PeriodPath):
    channel_id: ChannelId


class UserPath(PackagePath):
    user_id: UserId


# -- responses ------------------------------------------------------------------------------------

ProcessingStep = Literal["QUEUED", "DOWNLOADING", "ANALYZING", "PROCESSED"]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="UPPER_SNAKE error code", examples=["UNAUTHORIZED"])
    message: str = Field(description="A human sentence")
    processingStep: ProcessingStep | None = Field(None, description="Only with NOT_PROCESSED")
    errorMessageCode: str | None = Field(None, description="Only with NOT_PROCESSED, if errored")


class ErrorResponse(BaseModel):
    """The one error shape of every route (except the process routes' own shape)."""

    error: ErrorDetail


class OpenAPIConfigDict(ConfigDict, total=False):
    """pydantic's model config plus the key flask-openapi3 reads for a response's doc."""

    openapi_extra: dict[str, Any]


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


class RateLimitedResponse(ErrorResponse):
    """429 `RATE_LIMITED`: this client address used its budget; see `Retry-After`."""

    model_config = OpenAPIConfigDict(openapi_extra={"headers": RETRY_AFTER_HEADER})


class RetryLaterResponse(ErrorResponse):
    """A refusal to retry later (503 `BROKER_UNAVAILABLE` or `STORE_UNAVAILABLE`, 429
    `BANDWIDTH_EXCEEDED` or `RATE_LIMITED`): see `Retry-After`."""

    model_config = OpenAPIConfigDict(openapi_extra={"headers": RETRY_AFTER_HEADER})


class ProcessResponse(BaseModel):
    isAccepted: bool
    packageId: str | None = Field(description="md5 of the UPN; null when refused")
    errorMessageCode: (
        Literal[
            "INVALID_LINK",
            "BROKER_UNAVAILABLE",
            "RATE_LIMITED",
            "STORE_UNAVAILABLE",
            "BANDWIDTH_EXCEEDED",
            "NOT_AUTHENTICATED",
            "INVALID_CREDENTIALS",
            "TOKEN_EXPIRED",
        ]
        | None
    )


class ProcessRefused(ProcessResponse):
    """401: an account token that does not validate (a link submitted with one is charged to
    its account's bandwidth: docs/uploads.md); the common `error` object comes too."""


class ProcessRetryLater(ProcessResponse):
    """A refusal to retry later (429 RATE_LIMITED or BANDWIDTH_EXCEEDED, 503 BROKER_UNAVAILABLE
    or STORE_UNAVAILABLE; BANDWIDTH_EXCEEDED and STORE_UNAVAILABLE with the common `error`
    object too): see `Retry-After`."""

    model_config = OpenAPIConfigDict(openapi_extra={"headers": RETRY_AFTER_HEADER})


class Progress(BaseModel):
    percent: int = Field(ge=0, le=100)
    bytesDone: int | None
    bytesTotal: int | None


class QueuePosition(BaseModel):
    user: int = Field(description="QUEUED packages ahead of this one (0 unless QUEUED)")
    total: int = Field(description="All QUEUED packages")


class StatusResponse(BaseModel):
    isDataAvailable: bool
    isProcessing: bool
    processingStep: ProcessingStep | None = Field(description="null when errored")
    progress: Progress
    processingQueuePosition: QueuePosition
    isErrored: bool
    errorMessageCode: str | None
    queuedAt: str | None = Field(description="YYYY-MM-DDTHH:MM:SSZ")
    startedAt: str | None
    finishedAt: str | None


class DeleteResponse(BaseModel):
    isDeleted: bool
    errorMessageCode: str | None


class HealthResponse(BaseModel):
    """The old combined check (`/health`): broker and store only."""

    broker: Literal["ok", "unreachable"]
    store: Literal["ok", "unreachable"]


class LiveResponse(BaseModel):
    """The process is up (`/livez`); nothing else was asked."""

    status: Literal["ok"]


class ReadyResponse(BaseModel):
    """Each dependency of `/readyz` and how it answered."""

    store: Literal["ok", "unreachable"]
    broker: Literal["ok", "unreachable"]
    secret: Literal["ok", "missing"]
    workers: Literal["ok", "none", "unreachable"] = Field(
        description="ok: a worker consumes the packages queue; none: no worker does; "
        "unreachable: the workers could not be asked (broker down)"
    )


class View(BaseModel):
    """A statistics view as documented in docs/statistics.md (more fields than listed)."""

    model_config = ConfigDict(extra="allow")


class AboutView(View):
    package_id: str
    owner: dict | None
    package_date: str | None
    layout: str
    is_partial: bool


class OverviewView(View):
    messages: int
    active_days: int
    top: dict


class StatsView(View):
    period: str
    start: str
    end: str
    days: int
    messages: dict
    voice: dict


class TopPage(BaseModel):
    type: str
    period: str
    total: int = Field(description="All ranked entries of the list")
    limit: int
    offset: int
    entries: list[dict]


class EntityPeriodView(View):
    """An entity view narrowed to one period: its fields plus the period's figures."""

    period: str
    start: str | None = None
    end: str | None = None
    days: int | None = None
    messages: dict | None = None
    voice: dict | None = None


class UserView(View):
    id: str
    username: str | None
    display_name: str | None
    avatar_url: str | None
    relationship: str
