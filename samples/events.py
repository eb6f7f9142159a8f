"""Pre-rendered activity event lines: one %-format template per event type and client."""

from __future__ import annotations

import random
from typing import Any

from samples.compact_json import compact
from samples.key_order import arrange

COUNTED = (
    "app_opened",
    "session_start",
    "session_end",
    "join_voice_channel",
    "leave_voice_channel",
    "join_call",
    "start_call",
    "guild_joined",
    "add_reaction",
    "message_edited",
    "message_deleted",
    "send_message",
    "application_command_used",
    "slash_command_used",
    "notification_clicked",
    "email_opened",
    "login_successful",
    "app_crashed",
    "captcha_served",
    "user_avatar_updated",
    "remote_auth_login",
    "oauth2_authorize_accepted",
    "voice_message_recorded",
    "message_reported",
    "premium_upsell_viewed",
)
# (os, os_version, browser, user agent, device, weight)
CLIENTS = (
    (
        "Windows",
        "10.0.22631",
        "Discord Client",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "discord/1.0.9147 Chrome/120.0.6099.291 Electron/28.2.10 Safari/537.36",
        "",
        45,
    ),
    ("Android", "14", "Discord Android", "Discord-Android/223015;RNA", "Pixel 7, panther", 30),
    (
        "iOS",
        "17.4.1",
        "Discord iOS",
        "Discord/62.0 (iPhone; iOS 17.4.1; Scale/3.00)",
        "iPhone14,5",
        12,
    ),
    (
        "Mac OS X",
        "23.4.0",
        "Discord Client",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "discord/0.0.301 Chrome/120.0.6099.291 Electron/28.2.10 Safari/537.36",
        "",
        8,
    ),
    (
        "Linux",
        "6.5.0-28-generic",
        "Discord Client",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) discord/0.0.50 "
        "Chrome/120.0.6099.291 Electron/28.2.10 Safari/537.36",
        "",
        5,
    ),
)
PLACES = (
    ("Lyon", "FR", "ARA", "Europe/Paris"),
    ("Berlin", "DE", "BE", "Europe/Berlin"),
    ("Austin", "US", "TX", "America/Chicago"),
    ("Madrid", "ES", "MD", "Europe/Madrid"),
    ("Recife", "BR", "PE", "America/Recife"),
)


def _static_fields(rng: random.Random, client: tuple, user_id: str, place: tuple) -> dict[str, Any]:
    os_name, os_version, browser, agent, device, _ = client
    city, country, region, zone = place
    return {
        "user_id": user_id,
        "domain": "discord.com",
        "freight_hostname": "freight-prd-7f9c",
        "client_send_timestamp": "null",
        "os": os_name,
        "os_version": os_version,
        "os_arch": "x64" if device == "" else "arm64",
        "browser": browser,
        "browser_user_agent": agent,
        "device": device,
        "client_build_number": 290232 + rng.randrange(900),
        "client_version": "1.0.9147",
        "release_channel": "stable",
        "system_locale": "en-US",
        "city": city,
        "country_code": country,
        "region_code": region,
        "time_zone": zone,
        "isp": "Example Telecom",
        "ip": f"192.0.2.{rng.randrange(1, 255)}",
        "cpu_core_count": str(rng.choice((4, 8, 12, 16))),
        "client_performance_memory": str(rng.randrange(400000, 900000)),
        "client_uuid": f"{rng.getrandbits(128):032x}",
        "client_heartbeat_session_id": f"{rng.getrandbits(128):032x}",
        "accessibility_features": str(rng.choice((128, 256, 524544))),
        "rendered_locale": "en-US",
        "is_developer": False,
        "design_id": 0,
        "event_source": "client",
        "launch_signature": f"{rng.getrandbits(128):032x}",
    }


SLOTS = {"eid": "0" * 32, "extra": "", "stamp": "2024-01-01T00:00:00.000Z", "cts": '"null"'}
EVENT_ID = '"event_id":"%(eid)s"'
STAMP = '"timestamp":"\\"%(stamp)s\\""'
TRACK_AND_DAY = ('"client_track_timestamp":%(cts)s', '"day":"%(day)s"')


def render_template(
    rng: random.Random,
    event_type: str | None,
    client: tuple,
    user_id: str,
    place: tuple,
    order: tuple[random.Random, int] | None = None,
) -> str:
    """A line template with %(name)s slots: eid, extra keys, stamp, cts (client time), day.

    `order` (an rng and a variant of samples.key_order) arranges the same keys another way.
    """
    fields = _static_fields(rng, client, user_id, place)
    inner = compact(fields)[1:-1].replace("%", "%%")
    head = f'{{"event_type":"{event_type}",' if event_type else "{"
    line = head + EVENT_ID + ",%(extra)s" + inner + "," + STAMP + "," + ",".join(TRACK_AND_DAY)
    sample = len(line % {**SLOTS, "day": "1000"})
    target = rng.randrange(1200, 1480)
    buckets: list[str] = []
    while sample + 20 + len(",".join(buckets)) < target:
        buckets.append(str(rng.randrange(10**5, 10**8)))
    tail = '"experiment_buckets":"' + ",".join(buckets) + '"'
    if order is None:
        return line + "," + tail + "}\n"
    event = f'"event_type":"{event_type}"' if event_type else None
    pieces = [compact({k: v})[1:-1].replace("%", "%%") for k, v in fields.items()]
    return arrange(*order, event, STAMP, [EVENT_ID, *pieces, *TRACK_AND_DAY, tail])


class Templates:
    """Lazily rendered templates per (event type, client, key order variant), stable for a seed."""

    def __init__(self, seed: int, user_id: str, place: tuple) -> None:
        self._seed, self._user, self._place = seed, user_id, place
        self._cache: dict[tuple[str | None, int, int | None], str] = {}

    def get(self, event_type: str | None, client: int, variant: int | None = None) -> str:
        """The template of an event type as sent by a client, its keys in a variant's order."""
        key = (event_type, client, variant)
        tpl = self._cache.get(key)
        if tpl is None:
            rng = random.Random(f"{self._seed}:{event_type}:{client}")
            order = None
            if variant is not None:
                order = (random.Random(f"{self._seed}:{event_type}:{client}:{variant}"), variant)
            tpl = render_template(rng, event_type, CLIENTS[client], self._user, self._place, order)
            self._cache[key] = tpl
        return tpl


MODEL = '"model_version":"2023-10"'


def predicted_lines(user_id: str) -> list[str]:
    """Lines without event_type, as seen in real analytics files."""
    return [
        f'{{"predicted_gender":"female","probability":"0.61","user_id":"{user_id}",{MODEL}}}\n',
        f'{{"predicted_age":"25-34","probability":"0.44","user_id":"{user_id}",{MODEL}}}\n',
    ]
