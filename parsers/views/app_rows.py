"""The rows of the Dumpus app's data file, from the analysed package (`parsers.views.app_database`).

Each table's rows come from the aggregates the views use, in the value formats the app compares:
ids and epoch dates as text, `YYYY-MM-DD` days, integer counts, REAL minutes when not whole.
"""

from collections import Counter
from collections.abc import Iterator

from parsers.aggregate.entities import Entities
from parsers.aggregate.package_data import PackageData
from parsers.instants import day_to_iso, parse_instant
from parsers.sources.account import VIRTUAL_CURRENCIES, Person, successful_payment
from parsers.sources.channels import DELETED_USER

APP_FILE_VERSION = "0.1.0"
# Counters the app shows per day with nothing associated (its "extra stats").
DAILY_COUNTERS = (
    "email_opened",
    "login_successful",
    "app_crashed",
    "user_avatar_updated",
    "oauth2_authorize_accepted",
    "remote_auth_login",
    "notification_clicked",
    "captcha_served",
    "voice_message_recorded",
    "message_reported",
    "message_edited",
    "premium_upsell_viewed",
)
COMMAND_EVENT = "application_command_used"


def package_row(data: PackageData, owner: Person) -> tuple:
    """The one `package_data` row: this package's id (md5 of the UPN) and its owner."""
    name = owner.username or owner.display_name or owner.id
    partial = 1 if data.missing else 0  # an INTEGER: the app tests its truthiness
    return (
        data.package_id,
        APP_FILE_VERSION,
        owner.id,
        name,
        owner.display_name,
        owner.avatar_url,
        partial,
    )


class DayNames(dict):
    """Day number -> `YYYY-MM-DD`, each formatted once."""

    def __missing__(self, day: int) -> str:
        text = self[day] = day_to_iso(day)
        return text


def activity_rows(data: PackageData, days: DayNames) -> Iterator[tuple[str, list[tuple]]]:
    """Joins, reactions, commands, app opens and the daily counters, as (row shape, rows).

    They carry hour 0, as on the app's own server (the app charts the hours of messages only).
    """
    activity = data.activity
    joined = [
        (days[day], count, guild_id or None)
        for (day, guild_id), count in activity.guilds_joined.items()
    ]
    yield "'guild_joined', ?, 0, ?, NULL, NULL, ?, NULL, NULL", joined
    reactions: Counter[tuple[int, str | None, str, str]] = Counter()
    for (day, name, emoji_id, channel_id), count in activity.reactions.items():
        reactions[(day, channel_id, name, "0" if emoji_id is None else "1")] += count
    rows: list[tuple] = [
        (days[day], count, channel, name, custom)
        for (day, channel, name, custom), count in reactions.items()
    ]
    yield "'add_reaction', ?, 0, ?, NULL, ?, NULL, ?, ?", rows
    rows = [
        (days[day], count, application_id, guild_id)
        for (day, guild_id, application_id), count in activity.applications.items()
    ]
    yield f"'{COMMAND_EVENT}', ?, 0, ?, ?, NULL, ?, NULL, NULL", rows
    rows = [(days[day], count, os_name) for (day, os_name), count in activity.app_opens.items()]
    yield "'app_opened', ?, 0, ?, NULL, NULL, NULL, ?, NULL", rows
    rows = [
        (name, days[day], count)
        for name in DAILY_COUNTERS
        for day, count in activity.events.get(name, {}).items()
        if count
    ]
    yield "?, ?, 0, ?, NULL, NULL, NULL, NULL, NULL", rows


def dm_rows(entities: Entities) -> Iterator[tuple]:
    """One row per one-to-one DM channel, named after the person in it."""
    for entry in entities.channels.values():
        if entry.kind != "dm" or entry.person_id is None:
            continue
        group = entities.people.get(entry.person_id)
        person = group.person if group is not None else None
        messages, minutes = entities.channel_totals(entry.channel_id, "lifetime")
        name = (person.username or person.display_name) if person else None
        yield (
            entry.channel_id,
            entry.person_id,
            name or (DELETED_USER if entry.person_id.startswith("deleted-") else entry.person_id),
            person.display_name if person else None,
            person.avatar_url if person else None,
            messages,
            round(minutes),
            0.0,  # no sentiment is scored: 0 hides the app's widget (never a made-up figure)
        )


def channel_rows(entities: Entities) -> Iterator[tuple]:
    """One row per server channel (the app prefixes the name with `#`)."""
    for entry in entities.channels.values():
        if entry.kind == "guild" and entry.guild_id is not None:
            messages, minutes = entities.channel_totals(entry.channel_id, "lifetime")
            name = entry.name or entry.channel_id
            yield (entry.channel_id, name, entry.guild_id, messages, round(minutes))


def guild_rows(entities: Entities) -> Iterator[tuple]:
    """One row per server of the package (left servers together under `unknown`)."""
    for guild in entities.guilds.values():
        messages, _minutes, _active = entities.group_totals(guild, "lifetime")
        yield (guild.key, guild.name or guild.key, messages)


def payment_rows(data: PackageData) -> Iterator[tuple]:
    """Successful payments in real money, amounts in cents, as the overview counts them."""
    for payment_id, record in data.account.payments.items():
        paid = successful_payment(record)
        if paid is None or paid[0] in VIRTUAL_CURRENCIES:
            continue
        instant = parse_instant(record.get("created_at"))
        day = "" if instant is None else day_to_iso(int(instant // 86400))
        yield (payment_id, day, paid[1], paid[0], str(record.get("description") or ""))


def voice_rows(data: PackageData) -> Iterator[tuple]:
    """Each paired voice stay; minutes as counted (REAL when not whole), dates epoch seconds."""
    guilds = data.activity.voice_guild
    for channel_id, start, end, seconds in data.activity.voice_stays:
        yield (channel_id, guilds.get(channel_id), seconds / 60.0, _epoch(start), _epoch(end))


def session_rows(data: PackageData) -> Iterator[tuple]:
    """Each paired session; minutes as counted, dates epoch seconds, the OS of its events."""
    for start, end, seconds, os_name in data.activity.session_spans:
        yield (_epoch(start), _epoch(end), seconds / 60.0, os_name)


def _epoch(seconds: float) -> str:
    """Epoch seconds as the app's server writes them (`1683849600.0`): text that sorts right."""
    return repr(float(seconds))
