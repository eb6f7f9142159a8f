"""The raw aggregates of one package, filled while reading and turned into views at the end."""

from collections import Counter
from dataclasses import dataclass, field

from parsers.activity.pick import ActivityTotals
from parsers.instants import day_of
from parsers.sources.account import Account
from parsers.sources.channels import ChannelMeta
from parsers.streams import Skipped


@dataclass
class PackageData:
    """Everything read from a package, aggregated (never per message)."""

    package_id: str
    layout: str = "C"
    folder_language: str | None = None
    missing: list[str] = field(default_factory=list)
    account: Account = field(default_factory=Account)
    channels: dict[str, ChannelMeta] = field(default_factory=dict)
    message_hours: dict[str, Counter[int]] = field(default_factory=dict)
    first_message: float | None = None
    last_message: float | None = None
    message_records: int = 0
    labels: dict[str, str | None] = field(default_factory=dict)
    guild_names: dict[str, str] = field(default_factory=dict)
    activity: ActivityTotals = field(default_factory=ActivityTotals)
    activity_lines: int = 0
    files: Counter[str] = field(default_factory=Counter)
    skipped: Skipped = field(default_factory=Skipped)

    def note_messages(self, first: float | None, last: float | None) -> None:
        """Widen the first and last message instants."""
        if first is not None and (self.first_message is None or first < self.first_message):
            self.first_message = first
        if last is not None and (self.last_message is None or last > self.last_message):
            self.last_message = last

    @property
    def package_instant(self) -> float | None:
        """Return the newest instant of the package (messages and counted events)."""
        candidates = [
            value for value in (self.last_message, self.activity.last) if value is not None
        ]
        return max(candidates) if candidates else None

    @property
    def first_day(self) -> int | None:
        """Return the first day with a message or a counted event."""
        candidates = [
            value for value in (self.first_message, self.activity.first) if value is not None
        ]
        return day_of(min(candidates)) if candidates else None
