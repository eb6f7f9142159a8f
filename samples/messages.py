"""The messages section of a sample package: index.json and one folder per channel."""

from __future__ import annotations

import csv
import random
from collections import Counter
from typing import IO, Any

from samples.compact_json import compact
from samples.package_zip import PackageZip
from samples.tally import Tally
from samples.text import secrets
from samples.timeline import Timeline, clock, snowflake, times_in_day
from samples.world import TYPE_NAMES, Channel, World

CHUNK_ROWS = 2000


def write_messages(
    pz: PackageZip,
    root: str,
    layout: str,
    world: World,
    tl: Timeline,
    rng: random.Random,
    pool: list[str],
    total: int,
    tally: Tally,
) -> None:
    """Write `total` messages spread over the world's channels."""
    _allocate(world.channels, total)
    planted = _plant_secrets(rng, world.channels, tally)
    index = {c.id: c.label for c in world.channels}
    pz.write_json(f"{root}/index.json", index)
    days = [tl.date_of(i).isoformat() for i in range(tl.days)]
    newest = _newest_channel(world.channels) if total else None
    for chan in world.channels:
        folder = f"{root}/{chan.id}" if layout == "A" else f"{root}/c{chan.id}"
        pz.write_json(f"{folder}/channel.json", channel_json(chan, layout))
        tally.channel_folders += 1
        if not chan.has_file:
            continue
        stamps = _channel_times(rng, tl, chan, chan.count - (chan is newest))
        if chan is newest:
            stamps.insert(0, tl.final_us)
        rows = _rows(rng, chan, stamps, pool, planted.get(chan.id))
        _tally_channel(tally, chan, stamps, days, tl)
        if layout in ("A", "B"):
            with pz.open_text(f"{folder}/messages.csv", big=len(stamps) > 200_000) as out:
                _write_csv(out, rows, days, tl)
        else:
            with pz.open_binary(f"{folder}/messages.json", big=len(stamps) > 200_000) as out:
                _write_json(out, rows, days, tl)


def channel_json(chan: Channel, layout: str) -> dict[str, Any]:
    """channel.json of a channel; types are strings from layout C on."""
    doc: dict[str, Any] = {
        "id": chan.id,
        "type": TYPE_NAMES[chan.type] if layout in "CD" else chan.type,
    }
    if chan.name is not None:
        doc["name"] = chan.name
    if chan.guild is not None:
        doc["guild"] = {"id": chan.guild.id, "name": chan.guild.name}
    if chan.recipients is not None:
        doc["recipients"] = chan.recipients
    return doc


def _allocate(channels: list[Channel], total: int) -> None:
    live = [c for c in channels if c.has_file and c.weight > 0]
    weight = sum(c.weight for c in live)
    shares = [total * c.weight / weight for c in live]
    for chan, share in zip(live, shares, strict=True):
        chan.count = int(share)
    by_remainder = sorted(range(len(live)), key=lambda i: live[i].count - shares[i])
    for index in by_remainder[: total - sum(c.count for c in live)]:
        live[index].count += 1


def _newest_channel(channels: list[Channel]) -> Channel:
    return max((c for c in channels if c.has_file), key=lambda c: c.count)


def _plant_secrets(rng: random.Random, channels: list[Channel], tally: Tally) -> dict[str, str]:
    texts, planted = secrets(rng), {}
    for kind, secret in zip(("dm", "guild", "group_dm"), texts, strict=True):
        chan = next((c for c in channels if c.kind == kind and c.count > 1), None)
        if chan is not None:
            planted[chan.id] = secret
            tally.secrets.append(secret)
    return planted


def _channel_times(rng: random.Random, tl: Timeline, chan: Channel, count: int) -> list[int]:
    """Epoch microseconds of a channel's messages, newest first."""
    first, last = chan.window
    base = tl.day_cum[first - 1] if first else 0.0
    cum = [c - base for c in tl.day_cum[first : last + 1]]
    span = range(first, last + 1)
    if cum[-1] > 0:
        picked = rng.choices(span, cum_weights=cum, k=count)
    else:
        picked = [rng.choice(span) for _ in range(count)]
    stamps: list[int] = []
    for day, n in Counter(picked).items():
        day_us = tl.day_us(day)
        stamps.extend(day_us + t for t in times_in_day(rng, n, tl.limit_of(day)))
    stamps.sort(reverse=True)
    return stamps


def _rows(
    rng: random.Random, chan: Channel, stamps: list[int], pool: list[str], secret: str | None
):
    """(message id, epoch us, contents, attachments) per message, newest first."""
    rand, choice = rng.random, rng.choice
    rows = []
    for epoch_us in stamps:
        if rand() < 0.03:
            epoch_us -= epoch_us % 1_000_000  # a whole second: the CSV drops the fraction
        mid = snowflake(rng, epoch_us // 1000)
        roll = rand()
        contents = "" if roll < 0.04 else choice(pool)
        attach = (
            f"https://cdn.discordapp.com/attachments/{chan.id}/{mid}/image.png"
            if roll < 0.07
            else ""
        )
        rows.append((mid, epoch_us, contents, attach))
    if secret is not None and rows:
        mid, epoch_us, _, attach = rows[-1]
        rows[-1] = (mid, epoch_us, secret, attach)
    return rows


def _tally_channel(
    tally: Tally, chan: Channel, stamps: list[int], days: list[str], tl: Timeline
) -> None:
    if not stamps:
        return
    n = len(stamps)
    tally.messages += n
    tally.per_channel[chan.id] += n
    if chan.kind == "dm":
        tally.per_dm[chan.other or ""] += n
    if chan.kind in ("guild", "left"):
        tally.per_guild[chan.guild.id if chan.guild else "unknown"] += n
    start_us = tl.day_us(0)
    tally.per_day.update(days[(s - start_us) // 86_400_000_000] for s in stamps)
    tally.saw(stamps[0])


def _write_csv(out: IO[str], rows: list, days: list[str], tl: Timeline) -> None:
    writer = csv.writer(out)  # excel dialect: CRLF, quotes only when needed, quotes doubled
    writer.writerow(("ID", "Timestamp", "Contents", "Attachments"))
    start_us = tl.day_us(0)
    for begin in range(0, len(rows), CHUNK_ROWS):
        chunk = []
        for mid, epoch_us, contents, attach in rows[begin : begin + CHUNK_ROWS]:
            offset = epoch_us - start_us
            day, in_day = divmod(offset, 86_400_000_000)
            frac = epoch_us % 1_000_000
            stamp = f"{days[day]} {clock(in_day)}" + (f".{frac:06d}+00:00" if frac else "+00:00")
            chunk.append((mid, stamp, contents, attach))
        writer.writerows(chunk)


def _write_json(out: IO[bytes], rows: list, days: list[str], tl: Timeline) -> None:
    out.write(b"[")
    start_us = tl.day_us(0)
    for begin in range(0, len(rows), CHUNK_ROWS):
        parts = []
        for mid, epoch_us, contents, attach in rows[begin : begin + CHUNK_ROWS]:
            day, in_day = divmod(epoch_us - start_us, 86_400_000_000)
            body = compact(contents)
            parts.append(
                f'{{"ID":{mid},"Timestamp":"{days[day]} {clock(in_day)}",'
                f'"Contents":{body},"Attachments":"{attach}"}}'
            )
        out.write(((",\n" if begin else "") + ",\n".join(parts)).encode())
    out.write(b"]")
