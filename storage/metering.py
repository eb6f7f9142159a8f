"""The server's own bandwidth metering, shared by the API (direct uploads) and the workers
(downloads of links submitted with an account token, or anonymously under `METER_ANONYMOUS`).

A transfer is charged before its bytes move, in one atomic step with the check
(`BandwidthStore.charge`): its declared size when it has one, else the whole allowance left
that day (a reservation: the transfer may take no more). Once it is over, the charge is
settled to the bytes that moved, or refunded when it failed. Days are UTC: a transfer counts
on the day it was charged.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from storage.bandwidth import BandwidthStore, Transfer
from storage.events import utc_day

CLIENT_PREFIX = "client:"
CLIENT_METER_LABEL = b"dumpus-stats/v1/client-meter"
DAY_SECONDS = 86_400


def client_meter(server_secret: bytes, address: str) -> str:
    """An anonymous client's meter: a keyed hash of its address, never the address."""
    digest = hmac.new(server_secret, CLIENT_METER_LABEL + b"\x00" + address.encode(), "sha256")
    return CLIENT_PREFIX + digest.hexdigest()[:32]


def seconds_to_next_day(at: float) -> int:
    """Whole seconds until the next UTC day begins (at least 1)."""
    return max(1, DAY_SECONDS - int(at) % DAY_SECONDS)


@dataclass(frozen=True)
class Charge:
    """One charged transfer of a meter, to settle or refund once its bytes have moved."""

    bandwidth: BandwidthStore
    meter: str
    day: str
    transfer: Transfer

    @property
    def size(self) -> int:
        """The bytes charged (what the transfer may move)."""
        return self.transfer.size

    def settle(self, size: int) -> None:
        """The transfer moved `size` bytes: that is what it costs."""
        self.bandwidth.settle(self.meter, self.day, self.transfer.id, size)

    def refund(self) -> None:
        """The transfer failed: it costs nothing."""
        self.bandwidth.refund(self.meter, self.day, self.transfer.id)


def charge(
    bandwidth: BandwidthStore, meter: str, size: int, limit: int, name: str, at: float
) -> Charge | None:
    """`size` bytes charged to the meter's day, or None when they do not fit in `limit`."""
    day = utc_day(at)
    transfer = bandwidth.charge(meter, day, size, limit, name, at)
    return None if transfer is None else Charge(bandwidth, meter, day, transfer)


def reserve_the_rest(
    bandwidth: BandwidthStore, meter: str, limit: int, name: str, at: float
) -> Charge | None:
    """Everything the meter has left that day charged (a transfer of unknown size), or None
    when nothing is left. Retried when another charge takes some of it meanwhile."""
    day = utc_day(at)
    while True:
        left = limit - bandwidth.usage(meter, day, 0).uploaded
        if left <= 0:
            return None
        transfer = bandwidth.charge(meter, day, left, limit, name, at)
        if transfer is not None:
            return Charge(bandwidth, meter, day, transfer)


def limit_of(bandwidth: BandwidthStore, meter: str, account_default: int, anonymous: int) -> int:
    """A meter's daily limit: an account's own (set by a superuser) or `account_default`; an
    anonymous client's `anonymous` (`METER_ANONYMOUS`)."""
    if meter.startswith(CLIENT_PREFIX):
        return anonymous
    own = bandwidth.limit(meter)
    return account_default if own is None else own


class TransferMeter:
    """The charge of one transfer whose size is known only once it starts (a download)."""

    def __init__(self, bandwidth: BandwidthStore, meter: str, limit: int, name: str) -> None:
        self._bandwidth, self._meter, self._limit, self._name = bandwidth, meter, limit, name
        self._charge: Charge | None = None

    def admit(self, declared: int | None, at: float) -> int | None:
        """Charge the declared size, or reserve the rest of the day's allowance without one;
        the bytes the transfer may take, or None when it does not fit (nothing charged)."""
        bandwidth, meter, limit, name = self._bandwidth, self._meter, self._limit, self._name
        if declared is None:
            self._charge = reserve_the_rest(bandwidth, meter, limit, name, at)
        else:
            self._charge = charge(bandwidth, meter, declared, limit, name, at)
        return None if self._charge is None else self._charge.size

    def settle(self, size: int) -> None:
        if self._charge is not None:
            self._charge.settle(size)

    def refund(self) -> None:
        if self._charge is not None:
            self._charge.refund()
            self._charge = None
