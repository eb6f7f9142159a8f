"""What a sample package holds, counted while writing it (the test oracle of the parsers)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from samples.activity import FOLDERS
from samples.compact_json import indented_bytes
from samples.events import COUNTED
from samples.tally import Tally
from samples.timeline import iso_z
from samples.world import World

SECTIONS = ("account", "messages", "servers", "activity")


@dataclass
class SampleTruth:
    """Figures counted while writing a package (never by parsing it back)."""

    layout: str
    language: str
    seed: int
    folders: dict[str, str]  # section -> top folder as written, wrapper included; omitted: absent
    missing_sections: list[str]
    owner_id: str
    owner_username: str
    package_date: str | None  # newest message or event timestamp, YYYY-MM-DDTHH:MM:SSZ
    messages: int
    messages_per_channel: dict[str, int]
    messages_per_dm_person: dict[str, int]  # other user id ("Deleted User" kept as one key)
    messages_per_guild: dict[str, int]  # "unknown" for channels of left servers
    messages_per_day: dict[str, int]
    channels_with_messages: int
    guilds_with_messages: int  # "unknown" excluded
    people_with_messages: int
    channel_folders: int
    events: dict[str, int]  # counted event types, from the folder a parser picks per family
    event_sources: dict[str, str]
    activity_lines: dict[str, int]  # folder -> lines written
    lines_without_event_type: int
    voice_minutes: float
    voice_sessions: int
    voice_minutes_per_channel: dict[str, float]
    sessions: int
    session_minutes: float
    reactions_by_emoji: dict[str, int]  # "name" or "name:id" for custom emojis
    reactions_per_channel: dict[str, int]
    commands_per_guild_app: dict[str, int]  # "guild:application" of application_command_used
    friends: int
    blocked: int
    payments_successful: int
    payments_by_currency: dict[str, int]
    payments_virtual: dict[str, int]
    secret_strings: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        """The truth as JSON bytes."""
        return indented_bytes(asdict(self))


def resolve_events(tally: Tally) -> tuple[dict[str, int], dict[str, str]]:
    """Per counted type, the first folder (analytics, modeling, reporting, tns) that has it."""
    events, sources = {}, {}
    for event_type in COUNTED:
        for folder in FOLDERS:
            count = tally.events.get(folder, Counter()).get(event_type, 0)
            if count:
                events[event_type], sources[event_type] = count, folder
                break
    return events, sources


def build_truth(spec: Any, world: World, tally: Tally, folders: dict[str, str]) -> SampleTruth:
    """Freeze the tally of a finished package into its truth (`spec` is a SampleSpec)."""
    events, sources = resolve_events(tally)
    return SampleTruth(
        layout=spec.layout, language=spec.language, seed=spec.seed, folders=folders,
        missing_sections=[s for s in SECTIONS if s in spec.partial],
        owner_id=world.owner.id, owner_username=world.owner.username,
        package_date=iso_z(tally.newest_us) if tally.newest_us is not None else None,
        messages=tally.messages, messages_per_channel=dict(tally.per_channel),
        messages_per_dm_person=dict(tally.per_dm), messages_per_guild=dict(tally.per_guild),
        messages_per_day=dict(sorted(tally.per_day.items())),
        channels_with_messages=len(tally.per_channel),
        guilds_with_messages=len([g for g in tally.per_guild if g != "unknown"]),
        people_with_messages=len(tally.per_dm), channel_folders=tally.channel_folders,
        events=events, event_sources=sources, activity_lines=dict(tally.lines),
        lines_without_event_type=tally.no_event_type,
        voice_minutes=round(tally.voice_ms / 60_000, 1), voice_sessions=tally.voice_sessions,
        voice_minutes_per_channel={
            c: round(ms / 60_000, 1) for c, ms in sorted(tally.voice_ms_per_channel.items())
        },
        sessions=tally.sessions, session_minutes=round(tally.session_ms / 60_000, 1),
        reactions_by_emoji=dict(tally.reactions_by_folder.get(sources.get("add_reaction", ""), {})),
        reactions_per_channel=dict(
            tally.reaction_channels_by_folder.get(sources.get("add_reaction", ""), {})
        ),
        commands_per_guild_app=dict(
            tally.commands_by_folder.get(sources.get("application_command_used", ""), {})
        ),
        friends=tally.friends, blocked=tally.blocked,
        payments_successful=tally.payments_successful,
        payments_by_currency=dict(tally.payments_real),
        payments_virtual=dict(tally.payments_virtual),
        secret_strings=list(tally.secrets),
    )  # fmt: skip
