"""What the bandwidth routes (`api/bandwidth.py`) answer: the response models of the OpenAPI
document, and the plain functions that build the answers from stored days.

Summaries are arithmetic over the stored per-day counters (one per day of the period at most),
never a scan of the entries: the counters are exact, kept at charge time.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from api.schemas import ErrorDetail
from storage.bandwidth import DayUsage, Transfer

LIMIT_EXCEEDED = "Daily bandwidth limit exceeded"
UPLOAD_PERMITTED = "Upload permitted"


class BandwidthCheckOut(BaseModel):
    allowed: bool
    message: str = Field(examples=[UPLOAD_PERMITTED])


class BandwidthRefusal(BaseModel):
    """400: the daily limit refuses the upload (`allowed`, `message` and `error` with code
    `BANDWIDTH_EXCEEDED`), or the body is not valid (`error` only, `INVALID_REQUEST`)."""

    allowed: bool | None = Field(None, description="false: the daily limit refuses the upload")
    message: str | None = Field(None, examples=[LIMIT_EXCEEDED])
    error: ErrorDetail


class TransferOut(BaseModel):
    file_name: str = Field(description="As the client sent it")
    size: int = Field(description="Bytes")
    at: str = Field(description="When it was recorded, ISO 8601 UTC")


class UploadLogOut(BaseModel):
    email: str
    date: str = Field(description="The UTC day, YYYY-MM-DD")
    total_upload_volume: int = Field(description="Bytes uploaded that day, exact")
    uploads: list[TransferOut] = Field(description="The newest first, at most BANDWIDTH_LIST_MAX")


class DeletionLogOut(BaseModel):
    email: str
    date: str = Field(description="The UTC day, YYYY-MM-DD")
    file_deleted: str
    file_size: int
    updated_deletion_volume: int = Field(description="Bytes deleted that day, exact")
    total_deletion_count: int
    deletions: list[TransferOut] = Field(description="The newest first, at most BANDWIDTH_LIST_MAX")


class BandwidthChecks(BaseModel):
    bandwidth_limit_approaching: bool = Field(description="used >= BANDWIDTH_ALERT_RATIO * limit")
    bandwidth_limit_exceeded: bool = Field(description="used >= limit")


class UsageAlertsOut(BaseModel):
    total_bandwidth_used: int
    bandwidth_total_limit: int
    bandwidth_percentage_used: float
    bandwidth_checks: BandwidthChecks


class DailySummaryOut(BaseModel):
    email: str
    date: str = Field(description="The UTC day, YYYY-MM-DD")
    total_bandwidth_limit: int
    total_data_bandwidth_used: int
    remaining_bandwidth: int
    bandwidth_percentage_consumed: float
    upload_count: int
    uploads: list[TransferOut]
    deletion_count: int
    total_volume_deleted: int
    deletions: list[TransferOut]


class DateRange(BaseModel):
    start: str
    end: str
    total_days: int
    days_with_activity: int
    days_without_activity: int


class BandwidthTotals(BaseModel):
    total_bandwidth_provided: int
    total_data_bandwidth_used: int
    total_volume_deleted: int
    overall_bandwidth_percentage_consumed: float


class DailyAverages(BaseModel):
    average_daily_usage: float
    average_daily_deletions: float
    average_daily_upload_count: float
    average_daily_deletion_count: float
    average_usage_on_active_days: float
    average_deletions_on_active_days: float


class ActivityTotals(BaseModel):
    total_upload_count: int
    total_deletion_count: int


class SummaryStatistics(BaseModel):
    date_range: DateRange
    bandwidth_totals: BandwidthTotals
    daily_averages: DailyAverages
    activity_totals: ActivityTotals


class CompleteSummaryOut(BaseModel):
    email: str
    summary_statistics: SummaryStatistics
    daily_records: list[DailySummaryOut] = Field(
        description="Every day of the period, newest first (days without activity as zeros)"
    )


class DailyLimitOut(BaseModel):
    email: str
    daily_limit: int = Field(description="The account's daily limit in bytes now")
    default: bool = Field(description="true: DAILY_BANDWIDTH_LIMIT applies (no own limit)")


def iso_utc(epoch: float) -> str:
    """`2026-12-02T10:00:00.000Z`. A day's list holds up to `BANDWIDTH_LIST_MAX` entries,
    answered again by each call: each second's text is formatted once."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{_utc_second(moment.replace(microsecond=0))}.{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _utc_second(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def transfer_json(transfer: Transfer) -> dict[str, Any]:
    return {"file_name": transfer.file_name, "size": transfer.size, "at": iso_utc(transfer.at)}


def percentage(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _average(total: int, days: int) -> float:
    return round(total / days, 2) if days else 0.0


def alerts_json(used: int, limit: int, alert_ratio: float) -> dict[str, Any]:
    """The alert flags. `used / limit` is the correctly rounded quotient: exactly at the ratio
    it equals the ratio's own float, where `ratio * limit` may round above `used`."""
    return {
        "total_bandwidth_used": used,
        "bandwidth_total_limit": limit,
        "bandwidth_percentage_used": percentage(used, limit),
        "bandwidth_checks": {
            "bandwidth_limit_approaching": used / limit >= alert_ratio,
            "bandwidth_limit_exceeded": used >= limit,
        },
    }


def daily_record(email: str, usage: DayUsage, limit: int) -> dict[str, Any]:
    """One day's summary against the account's current limit."""
    return {
        "email": email,
        "date": usage.day,
        "total_bandwidth_limit": limit,
        "total_data_bandwidth_used": usage.uploaded,
        "remaining_bandwidth": max(limit - usage.uploaded, 0),
        "bandwidth_percentage_consumed": percentage(usage.uploaded, limit),
        "upload_count": usage.upload_count,
        "uploads": [transfer_json(t) for t in usage.uploads],
        "deletion_count": usage.deletion_count,
        "total_volume_deleted": usage.deleted,
        "deletions": [transfer_json(t) for t in usage.deletions],
    }


def last_days(today: date, days: int) -> list[str]:
    """The `days` UTC days ending today, newest first."""
    return [(today - timedelta(days=back)).isoformat() for back in range(days)]


def complete_summary(
    email: str, meter: str, recorded: list[DayUsage], days: list[str], limit: int
) -> dict[str, Any]:
    """Every day of `days` (newest first; a day without a record is zeros) and the period's
    totals and averages, each limit the account's current one."""
    by_day = {usage.day: usage for usage in recorded}
    usages = [by_day.get(day) or DayUsage(meter, day) for day in days]
    used, deleted = sum(u.uploaded for u in usages), sum(u.deleted for u in usages)
    uploads, deletions = sum(u.upload_count for u in usages), sum(u.deletion_count for u in usages)
    active = sum(u.has_activity for u in usages)
    statistics = {
        "date_range": {
            "start": days[-1],
            "end": days[0],
            "total_days": len(days),
            "days_with_activity": active,
            "days_without_activity": len(days) - active,
        },
        "bandwidth_totals": {
            "total_bandwidth_provided": limit * len(days),
            "total_data_bandwidth_used": used,
            "total_volume_deleted": deleted,
            "overall_bandwidth_percentage_consumed": percentage(used, limit * len(days)),
        },
        "daily_averages": {
            "average_daily_usage": _average(used, len(days)),
            "average_daily_deletions": _average(deleted, len(days)),
            "average_daily_upload_count": _average(uploads, len(days)),
            "average_daily_deletion_count": _average(deletions, len(days)),
            "average_usage_on_active_days": _average(used, active),
            "average_deletions_on_active_days": _average(deleted, active),
        },
        "activity_totals": {"total_upload_count": uploads, "total_deletion_count": deletions},
    }
    return {
        "email": email,
        "summary_statistics": statistics,
        "daily_records": [daily_record(email, usage, limit) for usage in usages],
    }
