"""Request and response models of the Dumpus app's routes (`/dumpus/...`), for validation and
the OpenAPI document. Field names are the app's; the bodies are built as plain dicts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import RETRY_AFTER_HEADER, OpenAPIConfigDict, UserId

AppErrorCode = Literal[
    "UNKNOWN_PACKAGE_ID",
    "UNAUTHORIZED",
    "INVALID_LINK",
    "UNKNOWN_ERROR",
    "EXPIRED_LINK",
    "MISSING_USER_DATA",
]
AppStep = Literal["LOCKED", "DOWNLOADING", "ANALYZING", "PROCESSED"]
OCTET_STREAM = {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}


class AppPackagePath(BaseModel):
    # Any text: a wrong id fails the ownership check (401), as on the app's own server.
    package_id: str = Field(description="The package id: md5 of the UPN, 32 lowercase hex digits")


class AppUserPath(AppPackagePath):
    user_id: UserId


class SignedDownloadPath(BaseModel):
    package_id: str = Field(description="The package id")
    generation: int = Field(ge=0, le=2**62, description="The stored file's generation")
    expires: int = Field(ge=0, le=2**62, description="Expiry, UTC epoch seconds")
    signature: str = Field(max_length=128, description="HMAC of the three above, hex")


class AppProcessResponse(BaseModel):
    isAccepted: bool
    packageId: str | None = Field(description="md5 of the UPN; null when refused")
    errorMessageCode: AppErrorCode | None


class AppProcessRetryLater(AppProcessResponse):
    """Refused for now (429, 503): `errorMessageCode` UNKNOWN_ERROR, see `Retry-After`."""

    model_config = OpenAPIConfigDict(openapi_extra={"headers": RETRY_AFTER_HEADER})


class AppQueuePosition(BaseModel):
    """Always present; the app shows `standardQueueUser` while the step is LOCKED."""

    model_config = ConfigDict(extra="allow")
    standardQueueUser: int = Field(description="Packages queued ahead of this one")
    standardQueueTotal: int = Field(description="All queued packages")
    premiumQueueUser: int = 0
    premiumQueueTotal: int = 0
    user: int
    total: int


class AppStatusResponse(BaseModel):
    """The app's status document; `LOCKED` is our QUEUED."""

    isDataAvailable: bool
    isUpgraded: bool
    isProcessing: bool
    isErrored: bool
    errorMessageCode: AppErrorCode | None
    processingStep: AppStep | None
    processingQueuePosition: AppQueuePosition


class AppDeleteResponse(BaseModel):
    isDeleted: bool
    errorMessageCode: AppErrorCode | None


class AppBlobResponse(BaseModel):
    url: str = Field(description="Absolute, signed, short-lived download URL; no header needed")
    iv: str = Field(description="AES-CBC IV, 32 lowercase hex digits")
    ttl: int = Field(description="Seconds the URL works")


class AppUserResponse(BaseModel):
    user_id: str
    username: str | None
    display_name: str | None
    avatar_url: str | None
