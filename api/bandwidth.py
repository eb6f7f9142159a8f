"""Bandwidth metering under `/api/usage` (issue 14; design in docs/bandwidth.md): an account's
uploads are charged against a daily limit, its deletions logged, and its usage read back as
alerts and daily or period summaries. Days are UTC days of `api.services.now()`.

Every route takes an account token (`api.identity`): 401 without a valid one. An upload is
charged atomically (`storage.bandwidth.BandwidthStore.charge`): concurrent uploads never pass
the limit together. One over the limit is 400 `{"allowed": false, "message": "Daily bandwidth
limit exceeded", "error": {"code": "BANDWIDTH_EXCEEDED", ...}}` and charges nothing.
Superusers reset an account's day and set its own limit (403 `FORBIDDEN` for anyone else, 404
`UNKNOWN_ACCOUNT` for an e-mail that is no account of their organization).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api import bandwidth_answers as answers
from api.admin import EMAIL_PATTERN, account_of_organization, require_superuser
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, require_principal
from api.jsonio import json_response
from api.metering import daily_limit
from api.schemas import ErrorResponse
from api.services import get_settings, get_store, now
from api.storefronts import MessageOut
from storage.bandwidth import account_meter
from storage.events import utc_day
from storage.identity import Account

MAX_BYTES = 2**53  # the largest integer every JSON reader keeps exact
DEFAULT_DAYS, MAX_DAYS = 30, 366
BANDWIDTH_EXCEEDED = "BANDWIDTH_EXCEEDED"

bp = APIBlueprint(
    "bandwidth",
    __name__,
    url_prefix="/api/usage",
    abp_tags=[Tag(name="bandwidth", description="Daily upload bandwidth per account")],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)

Bytes = Annotated[int, Field(strict=True, ge=0, le=MAX_BYTES, description="Bytes, 0 to 2**53")]
DailyLimit = Annotated[int, Field(strict=True, ge=1, le=MAX_BYTES, description="Bytes, 1 to 2**53")]


class SizeBody(BaseModel):
    file_size: Bytes


class TransferBody(SizeBody):
    file_name: str = Field(min_length=1, max_length=255, description="1-255 characters")


class AccountBody(BaseModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, description="An account's e-mail")


class LimitBody(AccountBody):
    daily_limit: DailyLimit | None = Field(description="null: back to DAILY_BANDWIDTH_LIMIT")


class SummaryQuery(BaseModel):
    days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="Days, today included, 1-366")


def limit_exceeded() -> Response:
    """The seed's refusal and the common error shape in one body."""
    error = {"code": BANDWIDTH_EXCEEDED, "message": answers.LIMIT_EXCEEDED}
    body = {"allowed": False, "message": answers.LIMIT_EXCEEDED, "error": error}
    return json_response(body, 400)


def _listed() -> int:
    return get_settings().bandwidth_list_max


@bp.post(
    "/check-upload-bandwidth",
    summary="Whether an upload of this size fits today's limit (charges nothing)",
    responses={200: answers.BandwidthCheckOut, 400: answers.BandwidthRefusal},
)
def check_upload_bandwidth(body: SizeBody) -> Response:
    """200 `{"allowed": true, "message": "Upload permitted"}` when today's uploads plus
    `file_size` stay within the limit, else 400 `BANDWIDTH_EXCEEDED`."""
    meter = account_meter(require_principal().account.id)
    used = get_store().bandwidth.usage(meter, utc_day(now()), 1).uploaded
    if used + body.file_size > daily_limit(meter):
        return limit_exceeded()
    return json_response({"allowed": True, "message": answers.UPLOAD_PERMITTED})


@bp.post(
    "/log-upload",
    summary="Charge an upload against today's limit",
    responses={200: answers.UploadLogOut, 400: answers.BandwidthRefusal},
)
def log_upload(body: TransferBody) -> Response:
    """The upload counted when it fits the limit (checked and added at once), with the day's
    total and newest uploads; else 400 `BANDWIDTH_EXCEEDED` and nothing counted."""
    account = require_principal().account
    meter, at = account_meter(account.id), now()
    day, store = utc_day(at), get_store()
    charge = store.bandwidth.charge(
        meter, day, body.file_size, daily_limit(meter), body.file_name, at
    )
    if charge is None:
        return limit_exceeded()
    usage = store.bandwidth.usage(meter, day, _listed())
    return json_response(
        {
            "email": account.email,
            "date": day,
            "total_upload_volume": usage.uploaded,
            "uploads": [answers.transfer_json(t) for t in usage.uploads],
        }
    )


@bp.post(
    "/log-deletion",
    summary="Log a deletion (never charged)",
    responses={200: answers.DeletionLogOut},
)
def log_deletion(body: TransferBody) -> Response:
    """The deletion recorded on today's counters, with the day's deleted volume and count."""
    account = require_principal().account
    meter, at = account_meter(account.id), now()
    day, store = utc_day(at), get_store()
    store.bandwidth.log_deletion(meter, day, body.file_name, body.file_size, at)
    usage = store.bandwidth.usage(meter, day, _listed())
    return json_response(
        {
            "email": account.email,
            "date": day,
            "file_deleted": body.file_name,
            "file_size": body.file_size,
            "updated_deletion_volume": usage.deleted,
            "total_deletion_count": usage.deletion_count,
            "deletions": [answers.transfer_json(t) for t in usage.deletions],
        }
    )


@bp.get(
    "/check-usage-alerts",
    summary="Today's usage against the limit and its alert flags",
    responses={200: answers.UsageAlertsOut},
)
def check_usage_alerts() -> Response:
    """Approaching at `BANDWIDTH_ALERT_RATIO` of the limit (default 0.8), exceeded at it."""
    meter = account_meter(require_principal().account.id)
    used = get_store().bandwidth.usage(meter, utc_day(now()), 1).uploaded
    ratio = get_settings().bandwidth_alert_ratio
    return json_response(answers.alerts_json(used, daily_limit(meter), ratio))


@bp.get(
    "/daily-summary",
    summary="Today's uploads and deletions",
    responses={200: answers.DailySummaryOut},
)
def daily_summary() -> Response:
    account = require_principal().account
    meter = account_meter(account.id)
    usage = get_store().bandwidth.usage(meter, utc_day(now()), _listed())
    return json_response(answers.daily_record(account.email, usage, daily_limit(meter)))


@bp.get(
    "/complete-summary",
    summary="Every day of the last `days` UTC days, and their totals",
    responses={200: answers.CompleteSummaryOut},
)
def complete_summary(query: SummaryQuery) -> Response:
    """Newest day first, days without activity as zeros; arithmetic over the stored per-day
    counters (at most `days` of them)."""
    account = require_principal().account
    meter = account_meter(account.id)
    days = answers.last_days(datetime.fromtimestamp(now(), UTC).date(), query.days)
    recorded = get_store().bandwidth.usages(meter, days[-1], days[0], _listed())
    return json_response(
        answers.complete_summary(account.email, meter, recorded, days, daily_limit(meter))
    )


def _account_of_my_organization(email: str) -> Account:
    """The account with this e-mail when the caller is a superuser of its organization."""
    return account_of_organization(email, require_superuser().organization.id)


@bp.post(
    "/reset-daily",
    summary="Reset an account's usage of today (superuser)",
    responses={200: MessageOut, 404: ErrorResponse},
)
def reset_daily(body: AccountBody) -> Response:
    """Today's uploads, deletions and totals of the account gone; other days kept."""
    account = _account_of_my_organization(body.email)
    get_store().bandwidth.reset(account_meter(account.id), utc_day(now()))
    return json_response({"message": "Daily usage successfully reset."})


@bp.put(
    "/limit",
    summary="Set or clear an account's own daily limit (superuser)",
    responses={200: answers.DailyLimitOut, 404: ErrorResponse},
)
def set_daily_limit(body: LimitBody) -> Response:
    """`daily_limit` in bytes, or null for `DAILY_BANDWIDTH_LIMIT` again."""
    account = _account_of_my_organization(body.email)
    meter = account_meter(account.id)
    get_store().bandwidth.set_limit(meter, body.daily_limit)
    return json_response(
        {
            "email": account.email,
            "daily_limit": daily_limit(meter),
            "default": body.daily_limit is None,
        }
    )
