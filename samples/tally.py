"""Counters a sample package's writers fill while writing, independently of any parser."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Plain counts of what was written."""

    messages: int = 0
    per_channel: Counter[str] = field(default_factory=Counter)
    per_dm: Counter[str] = field(default_factory=Counter)
    per_guild: Counter[str] = field(default_factory=Counter)
    per_day: Counter[str] = field(default_factory=Counter)
    channel_folders: int = 0
    events: dict[str, Counter[str]] = field(default_factory=dict)  # folder -> event_type -> n
    lines: Counter[str] = field(default_factory=Counter)  # folder -> lines written
    no_event_type: int = 0
    voice_ms: int = 0
    voice_sessions: int = 0
    voice_ms_per_channel: Counter[str] = field(default_factory=Counter)
    session_ms: int = 0
    sessions: int = 0
    reactions_by_folder: dict[str, Counter[str]] = field(default_factory=dict)
    reaction_channels_by_folder: dict[str, Counter[str]] = field(default_factory=dict)
    commands_by_folder: dict[str, Counter[str]] = field(default_factory=dict)  # "guild:app"
    secrets: list[str] = field(default_factory=list)
    newest_us: int | None = None
    friends: int = 0
    blocked: int = 0
    payments_successful: int = 0
    payments_real: Counter[str] = field(default_factory=Counter)
    payments_virtual: Counter[str] = field(default_factory=Counter)

    def saw(self, epoch_us: int) -> None:
        """Remember the newest instant written."""
        if self.newest_us is None or epoch_us > self.newest_us:
            self.newest_us = epoch_us
