"""The API's side of the bandwidth metering (`storage.metering`): what an account may still move
today, and the refusal when a transfer does not fit."""

from __future__ import annotations

from api.errors import ApiError
from api.services import get_settings, get_store, now
from storage.bandwidth import account_meter
from storage.events import utc_day
from storage.metering import Charge, charge, limit_of, seconds_to_next_day

BANDWIDTH_EXCEEDED = "BANDWIDTH_EXCEEDED"
BANDWIDTH_EXCEEDED_MESSAGE = "Daily bandwidth limit exceeded"


def daily_limit(meter: str) -> int:
    """The meter's own limit when a superuser set one, else `DAILY_BANDWIDTH_LIMIT`
    (`METER_ANONYMOUS` for an anonymous client's)."""
    settings = get_settings()
    bandwidth = get_store().bandwidth
    return limit_of(bandwidth, meter, settings.daily_bandwidth_limit, settings.meter_anonymous)


def charge_account(account_id: str, size: int, name: str) -> Charge:
    """`size` bytes charged to the account's day; 429 `BANDWIDTH_EXCEEDED` (with `Retry-After`:
    the next UTC day) when they do not fit."""
    meter, at = account_meter(account_id), now()
    charged = charge(get_store().bandwidth, meter, size, daily_limit(meter), name, at)
    if charged is None:
        raise bandwidth_exceeded(at)
    return charged


def allowance_left(meter: str) -> int:
    """The bytes the meter may still move today."""
    used = get_store().bandwidth.usage(meter, utc_day(now()), 0).uploaded
    return daily_limit(meter) - used


def bandwidth_exceeded(at: float) -> ApiError:
    retry_after = {"Retry-After": str(seconds_to_next_day(at))}
    return ApiError(429, BANDWIDTH_EXCEEDED, BANDWIDTH_EXCEEDED_MESSAGE, retry_after)
