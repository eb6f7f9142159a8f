"""The Dumpus app's side of its data file, written from its behaviour (not from our code): how it
decrypts and opens the file, the schema it expects, and the queries its screens run.

`decrypt_like_the_app` is WebCrypto AES-CBC (PKCS#7 stripped) with SHA-256 of the UPN and the
hex IV, then pako's inflate (gzip or zlib header); `open_like_the_app` is sql.js on those bytes.
The queries are the app's, with its periods (`day BETWEEN start AND end` on text days, epoch
seconds in quotes for sessions); tests pass our own period bounds to compare with our views.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# table -> [(column, declared type)], as the app's own server declares them.
SCHEMA = {
    "activity": [
        ("event_name", "TEXT"), ("day", "TEXT"), ("hour", "INTEGER"),
        ("occurence_count", "INTEGER"), ("associated_user_id", "TEXT"),
        ("associated_channel_id", "TEXT"), ("associated_guild_id", "TEXT"),
        ("extra_field_1", "TEXT"), ("extra_field_2", "TEXT"),
    ],
    "dm_channels_data": [
        ("channel_id", "TEXT"), ("dm_user_id", "TEXT"), ("user_name", "TEXT"),
        ("display_name", "TEXT"), ("user_avatar_url", "TEXT"), ("total_message_count", "INTEGER"),
        ("total_voice_channel_duration", "INTEGER"), ("sentiment_score", "REAL"),
    ],
    "guild_channels_data": [
        ("channel_id", "TEXT"), ("channel_name", "TEXT"), ("guild_id", "TEXT"),
        ("total_message_count", "INTEGER"), ("total_voice_channel_duration", "INTEGER"),
    ],
    "guilds": [("guild_id", "TEXT"), ("guild_name", "TEXT"), ("total_message_count", "INTEGER")],
    "payments": [
        ("payment_id", "TEXT"), ("payment_date", "TEXT"), ("payment_amount", "INTEGER"),
        ("payment_currency", "TEXT"), ("payment_description", "TEXT"),
    ],
    "voice_sessions": [
        ("channel_id", "TEXT"), ("guild_id", "TEXT"), ("duration_mins", "INTEGER"),
        ("started_date", "TEXT"), ("ended_date", "TEXT"),
    ],
    "sessions": [
        ("started_date", "TEXT"), ("ended_date", "TEXT"), ("duration_mins", "INTEGER"),
        ("device_os", "TEXT"),
    ],
    "package_data": [
        ("package_id", "TEXT"), ("package_version", "TEXT"), ("package_owner_id", "TEXT"),
        ("package_owner_name", "TEXT"), ("package_owner_display_name", "TEXT"),
        ("package_owner_avatar_url", "TEXT"), ("package_is_partial", "BOOLEAN"),
    ],
}  # fmt: skip
# Columns the app's code spreads into its own package object: package_data must not have them.
APP_OWN_FIELDS = {"id", "packageLink", "UPNKey", "dateAdded", "backendURL"}


def decrypt_like_the_app(upn: str, iv_hex: str, ciphertext: bytes) -> bytes:
    """The SQLite bytes: AES-256-CBC under SHA-256(UPN), PKCS#7 stripped, then inflated."""
    return inflate_like_pako(decrypt_like_webcrypto(upn, iv_hex, ciphertext))


def decrypt_like_webcrypto(upn: str, iv_hex: str, ciphertext: bytes) -> bytes:
    """WebCrypto's AES-CBC decrypt: key SHA-256 of the UTF-8 UPN, IV from hex, PKCS#7 stripped."""
    key = hashlib.sha256(upn.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(iv_hex))).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def inflate_like_pako(data: bytes) -> bytes:
    """pako.inflate with default options: a gzip or zlib header is required (auto-detected)."""
    return zlib.decompress(data, wbits=47)  # 32 + 15: either header, never raw deflate


def open_like_the_app(sqlite_bytes: bytes) -> sqlite3.Connection:
    """The database in memory, as sql.js opens the bytes (`new Database(bytes)`)."""
    db = sqlite3.connect(":memory:")
    db.deserialize(sqlite_bytes)
    return db


def columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column of a table, in order."""
    return [(row[1], row[2]) for row in db.execute(f"PRAGMA table_info({table})")]


def one(db: sqlite3.Connection, sql: str):
    """The first column of the first row (None when there is none), as sql.js gives it."""
    row = db.execute(sql).fetchone()
    return None if row is None else row[0]


# -- the app's queries (period bounds pasted in, as the app does) ---------------------------------


def messages(db, s: str, e: str, where: str = "") -> int | None:
    """Messages sent in the period (overview, stats; `where` narrows to a guild or channel)."""
    sql = (
        f"SELECT SUM(a.occurence_count) AS message_count FROM activity a WHERE "
        f"a.event_name = 'message_sent' AND a.day BETWEEN '{s}' AND '{e}' {where}"
    )
    return one(db, sql)


def messages_per_hour(db, s: str, e: str) -> dict[int, int]:
    """The sending-times chart (hour must be an INTEGER)."""
    rows = db.execute(
        "SELECT a.hour, SUM(a.occurence_count) as message_count FROM activity a WHERE "
        f"a.event_name = 'message_sent' AND a.day BETWEEN '{s}' AND '{e}' "
        "GROUP BY hour ORDER BY hour ASC"
    )
    return dict(rows.fetchall())


def messages_per_day(db, s: str, e: str) -> dict[str, int]:
    """Messages per day (the daily chart's subquery, narrowed to message_sent)."""
    rows = db.execute(
        "SELECT a.day, SUM(a.occurence_count) FROM activity a WHERE a.event_name = "
        f"'message_sent' AND a.day BETWEEN '{s}' AND '{e}' GROUP BY a.day"
    )
    return dict(rows.fetchall())


def average_per_day(db, s: str, e: str) -> float | None:
    """Average messages per day with messages (before the app's ROUND)."""
    sql = (
        "SELECT AVG(daily_occurences) FROM (SELECT day, SUM(occurence_count) AS "
        "daily_occurences FROM activity WHERE event_name = 'message_sent' AND day "
        f"BETWEEN '{s}' AND '{e}' GROUP BY day)"
    )
    return one(db, sql)


def event_count(db, name: str, s: str, e: str) -> int | None:
    """One of the extra stats: `SUM(occurence_count)` of an event in the period."""
    sql = (
        "SELECT SUM(occurence_count) as event_count FROM activity WHERE "
        f"event_name = '{name}' AND day BETWEEN '{s}' AND '{e}'"
    )
    return one(db, sql)


def joined_servers(db, s: str, e: str) -> int:
    """Joined servers (distinct guild ids of guild_joined rows)."""
    sql = (
        "SELECT COUNT(DISTINCT(a.associated_guild_id)) as join_count FROM activity a "
        f"WHERE a.event_name = 'guild_joined' AND a.day BETWEEN '{s}' AND '{e}'"
    )
    return one(db, sql)


def app_opens(db, s: str, e: str) -> int | None:
    """App started (app_opened rows)."""
    sql = (
        "SELECT SUM(a.occurence_count) AS app_started FROM activity a WHERE "
        f"a.event_name = 'app_opened' AND a.day BETWEEN '{s}' AND '{e}'"
    )
    return one(db, sql)


def top_dms(db, s: str, e: str) -> dict[str, int]:
    """The top DMs list (all pages): dm_user_id -> messages."""
    rows = db.execute(
        "SELECT d.dm_user_id, d.user_name, d.user_avatar_url, SUM(a.occurence_count) AS "
        "message_count, d.channel_id FROM activity a JOIN dm_channels_data d ON "
        "a.associated_channel_id = d.channel_id WHERE a.event_name = 'message_sent' AND "
        f"a.day BETWEEN '{s}' AND '{e}' GROUP BY d.dm_user_id ORDER BY message_count DESC"
    )
    return {row[0]: row[3] for row in rows}


def top_guilds(db, s: str, e: str) -> dict[str, int]:
    """The top servers list: guild_id -> messages."""
    rows = db.execute(
        "SELECT guild_name, guild_id, SUM(a.occurence_count) AS message_count FROM guilds JOIN "
        "activity a ON a.associated_guild_id = guilds.guild_id WHERE a.event_name = "
        f"'message_sent' AND a.day BETWEEN '{s}' AND '{e}' GROUP BY guild_id "
        "ORDER BY message_count DESC"
    )
    return {row[1]: row[2] for row in rows}


def top_channels(db, s: str, e: str, guild_id: str | None = None) -> dict[str, int]:
    """The top channels list (or a server's): channel_id -> messages."""
    narrow = f"AND a.associated_guild_id = '{guild_id}'" if guild_id else ""
    rows = db.execute(
        "SELECT channel_name, channel_id, c.guild_id, g.guild_name, SUM(a.occurence_count) AS "
        "message_count FROM guild_channels_data c JOIN activity a ON a.associated_channel_id = "
        "c.channel_id JOIN guilds g ON g.guild_id = c.guild_id WHERE a.event_name = "
        f"'message_sent' AND a.day BETWEEN '{s}' AND '{e}' {narrow} GROUP BY channel_id "
        "ORDER BY message_count DESC"
    )
    return {row[1]: row[4] for row in rows}


def dm_messages(db, user_id: str, s: str, e: str) -> int | None:
    """A DM page's message count."""
    sql = (
        "SELECT SUM(a.occurence_count) AS message_count FROM activity a JOIN "
        "dm_channels_data d ON a.associated_channel_id = d.channel_id WHERE "
        f"a.event_name = 'message_sent' AND a.day BETWEEN '{s}' AND '{e}' AND "
        f"d.dm_user_id = '{user_id}' GROUP BY d.dm_user_id LIMIT 1"
    )
    return one(db, sql)


def reactions_in_channel(db, channel_id: str, s: str, e: str) -> int | None:
    """A channel page's reaction count."""
    sql = (
        "SELECT SUM(a.occurence_count) AS reaction_count FROM activity a WHERE "
        f"a.event_name = 'add_reaction' AND a.associated_channel_id = '{channel_id}' "
        f"AND a.day BETWEEN '{s}' AND '{e}'"
    )
    return one(db, sql)


def top_bots(db, guild_id: str, s: str, e: str) -> dict[str, int]:
    """A server page's top bots: application id -> commands."""
    rows = db.execute(
        "SELECT SUM(a.occurence_count) AS total_occurences, a.associated_user_id, d.user_name, "
        "d.display_name, d.user_avatar_url FROM activity a LEFT JOIN dm_channels_data d ON "
        "a.associated_user_id = d.dm_user_id WHERE a.event_name = 'application_command_used' "
        f"AND a.associated_guild_id = '{guild_id}' AND a.day BETWEEN '{s}' AND '{e}' "
        "GROUP BY a.associated_user_id ORDER BY total_occurences DESC"
    )
    return {row[1]: row[0] for row in rows}


def voice_minutes(db, s_epoch: int, e_epoch: int) -> float | None:
    """Voice time (minutes), sessions started between the two epoch seconds."""
    sql = (
        "SELECT SUM(duration_mins) as time_spent FROM voice_sessions WHERE "
        f"started_date BETWEEN '{s_epoch}' AND '{e_epoch}'"
    )
    return one(db, sql)


def calls(db, s_epoch: int, e_epoch: int) -> int:
    """Received calls: voice_sessions rows started in the period."""
    sql = (
        "SELECT count(*) as received_calls FROM voice_sessions WHERE "
        f"started_date BETWEEN '{s_epoch}' AND '{e_epoch}'"
    )
    return one(db, sql)


def session_minutes_by_os(db, s_epoch: int, e_epoch: int) -> dict[str, float]:
    """Session time per OS (the app's console-only query, in minutes rather than hours)."""
    rows = db.execute(
        "SELECT device_os, SUM(duration_mins) FROM sessions WHERE started_date BETWEEN "
        f"'{s_epoch}' AND '{e_epoch}' GROUP BY device_os"
    )
    return dict(rows.fetchall())


def money_spent(db) -> int | None:
    """Money spent, whole units (integer division of cents, as the app's query does)."""
    return one(db, "SELECT SUM(payment_amount) / 100 as total_spent FROM payments")
