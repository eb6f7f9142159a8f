"""`GET /api/v1/analytics/usage/trends`: API calls per UTC day, read from the counters workers
fold from the audit log (`storage.audit`), so a read costs O(days) whatever the calls recorded.

Anyone sees their own trends and their organization's; a superuser any account's or
organization's, and without filters every call. Otherwise 403 `Cannot view other users' trends`
or `Cannot view other organizations' trends`. A bad UUID or `days` outside 1..365 is 422.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api.errors import ApiError
from api.identity import ACCOUNT_SECURITY, Principal, require_principal
from api.jsonio import json_response
from api.schemas import ErrorResponse, RateLimitedResponse
from api.services import get_store, now
from storage.audit import ACCOUNT, ALL, ORGANIZATION, Kind

DEFAULT_DAYS, MAX_DAYS = 30, 365

bp = APIBlueprint(
    "usage",
    __name__,
    url_prefix="/api/v1/analytics",
    abp_tags=[Tag(name="analytics", description="The API's own usage, per day")],
    abp_security=ACCOUNT_SECURITY,
    abp_responses={
        401: ErrorResponse,
        403: ErrorResponse,
        422: ErrorResponse,
        429: RateLimitedResponse,
    },
)


class TrendsQuery(BaseModel):
    """A bad value is a 422 `INVALID_QUERY` (`api.errors.UNPROCESSABLE_ENDPOINTS`)."""

    user_id: uuid.UUID | None = Field(None, description="An account's UUID")
    organization_id: uuid.UUID | None = Field(None, description="An organization's UUID")
    days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="Days, today included, 1-365")


class DailyUsage(BaseModel):
    date: str = Field(description="A UTC day, YYYY-MM-DD")
    calls: int


class TrendsResponse(BaseModel):
    period_days: int
    daily_usage: list[DailyUsage] = Field(description="Every day of the period, oldest first")
    total_calls: int
    average_daily_calls: float = Field(description="total_calls / period_days")


def _counter(caller: Principal, user_id: str | None, organization_id: str | None):
    """(kind, subject) of the counter to read, or None for a period of zeros; 403 if not
    allowed."""
    superuser = caller.account.is_superuser
    if user_id and user_id != caller.account.id and not superuser:
        raise ApiError(403, "FORBIDDEN", "Cannot view other users' trends")
    if organization_id and organization_id != caller.organization.id and not superuser:
        raise ApiError(403, "FORBIDDEN", "Cannot view other organizations' trends")
    if user_id and organization_id:  # the account's calls, if it belongs to the organization
        account = get_store().identity.accounts.get(user_id)
        in_it = account is not None and account.organization_id == organization_id
        return (ACCOUNT, user_id) if in_it else None
    if user_id:
        return ACCOUNT, user_id
    if organization_id:
        return ORGANIZATION, organization_id
    return (ALL, "") if superuser else (ACCOUNT, caller.account.id)


def period(today: date, days: int) -> list[str]:
    """The `days` UTC days ending today, oldest first."""
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def trends_document(counts: dict[str, int], days: list[str]) -> dict:
    """The answer: every day present (zero-filled), its total and its daily average."""
    daily = [{"date": day, "calls": counts.get(day, 0)} for day in days]
    total = sum(counts.get(day, 0) for day in days)
    return {
        "period_days": len(days),
        "daily_usage": daily,
        "total_calls": total,
        "average_daily_calls": total / len(days),
    }


@bp.get("/usage/trends", summary="API calls per day", responses={200: TrendsResponse})
def usage_trends(query: TrendsQuery) -> Response:
    """Calls per UTC day over the last `days` days (today included), zero-filled."""
    caller = require_principal()
    user_id = str(query.user_id) if query.user_id else None
    organization_id = str(query.organization_id) if query.organization_id else None
    days = period(datetime.fromtimestamp(now(), UTC).date(), query.days)
    counter = _counter(caller, user_id, organization_id)
    counts: dict[str, int] = {}
    if counter is not None:
        kind: Kind = counter[0]
        counts = get_store().audit.daily_calls(kind, counter[1], days[0], days[-1])
    return json_response(trends_document(counts, days))
