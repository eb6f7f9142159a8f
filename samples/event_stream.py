"""Generates the event lines of one activity folder, day by day, counting what it writes."""

from __future__ import annotations

import random
from collections import Counter

from samples import activity as act
from samples.events import Templates, predicted_lines
from samples.key_order import KeyOrder
from samples.package_zip import PackageZip
from samples.tally import Tally
from samples.timeline import Timeline, allocate, times_in_day
from samples.world import World

DAY_MS = 86_400_000


class EventStream:
    """Renders event lines from templates and keeps the tally of one folder."""

    def __init__(
        self,
        rng: random.Random,
        tl: Timeline,
        world: World,
        templates: Templates,
        tally: Tally,
        folder: str,
    ) -> None:
        self.rng, self.tl, self.templates, self.tally = rng, tl, templates, tally
        self.extras = act.Extras(random.Random(f"extras:{world.owner.id}"), world)
        self.counter = tally.events.setdefault(folder, Counter())
        self.reactions = tally.reactions_by_folder.setdefault(folder, Counter())
        self.reaction_channels = tally.reaction_channels_by_folder.setdefault(folder, Counter())
        self.commands = tally.commands_by_folder.setdefault(folder, Counter())
        self.start_ms = tl.day_us(0) // 1000
        self.final_ms = tl.final_us // 1000
        self.dates = [tl.date_of(i).isoformat() for i in range(tl.days)]
        offset = (tl.start - world.created).days
        self.day_strs = [str(offset + i) for i in range(tl.days)]
        self.busy = {"voice": 0, "session": 0}
        self.order: KeyOrder | None = None  # the usual key order when None

    def _stamp(self, epoch_ms: int) -> tuple[str, str]:
        day, in_day = divmod(epoch_ms - self.start_ms, DAY_MS)
        s, milli = divmod(in_day, 1000)
        stamp = f"{self.dates[day]}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{milli:03d}Z"
        return stamp, self.day_strs[day]

    def line(
        self, event_type: str, client: int, extra: str, epoch_ms: int, lat: int, null_cts: bool
    ) -> str:
        """One event line: `timestamp` is the client time plus the latency."""
        self.counter[event_type] += 1
        self.tally.saw((epoch_ms + lat) * 1000)
        stamp, day = self._stamp(epoch_ms + lat)
        cts = '"null"' if null_cts else f'"\\"{self._stamp(epoch_ms)[0]}\\""'
        eid = f"{self.rng.getrandbits(128):032x}"
        variant = None if self.order is None else self.order.next()
        slots = {"eid": eid, "extra": extra, "stamp": stamp, "cts": cts, "day": day}
        return self.templates.get(event_type, client, variant) % slots

    def emit(self, kind: str, client: int, epoch_ms: int, pair_ok: bool) -> list[str] | None:
        """The lines of one event (two for a voice or session pair); None when it cannot fit."""
        rng = self.rng
        lat = 20 + int(rng.random() * 600)
        if kind in act.PAIRS:
            return self._pair(kind, client, epoch_ms, lat) if pair_ok else None
        if kind == "add_reaction":
            at = rng.randrange(len(self.extras.message))  # in a channel, as real reactions are
            self.reaction_channels[self.extras.message_ids[at]] += 1
            extra_c, key = rng.choice(self.extras.emojis)
            extra = self.extras.message[at] + extra_c
            self.reactions[key] += 1
        elif kind == "application_command_used":
            at = rng.randrange(len(self.extras.apps))  # what `of` draws, with its key
            extra = self.extras.apps[at]
            self.commands[self.extras.app_keys[at]] += 1
        else:
            extra = self.extras.of(rng, kind)
        return [self.line(kind, client, extra, epoch_ms, lat, rng.random() < 0.08)]

    def _pair(self, kind: str, client: int, start: int, lat: int) -> list[str] | None:
        rng = self.rng
        mean = 1_800_000 if kind == "voice" else 1_200_000
        end = min(start + 15_000 + int(rng.expovariate(1 / mean)), self.final_ms - 2_000 - lat)
        if start < self.busy[kind] or end <= start:
            return None
        self.busy[kind] = end
        if kind == "voice":
            extra, channel_id = rng.choice(self.extras.voice)
            self.tally.voice_ms += end - start
            self.tally.voice_ms_per_channel[channel_id] += end - start
            self.tally.voice_sessions += 1
        else:
            extra = ""
            self.tally.session_ms += end - start
            self.tally.sessions += 1
        first, second = act.PAIRS[kind]
        return [
            self.line(first, client, extra, start, lat, False),
            self.line(second, client, extra, end, lat, False),
        ]

    def final_line(self) -> str:
        """app_opened at the package's newest instant (when no message holds it)."""
        return self.line("app_opened", 0, "", self.final_ms - 150, 150, False)


def write_days(
    stream: EventStream, writer: act.ShardWriter, counts: list[int], plan: act.FolderPlan
) -> None:
    """Write each day's lines in time order, placing every mandatory family once."""
    rng = stream.rng
    kinds = [k for k, _ in plan.mix]
    cum = list(act.itertools.accumulate(w for _, w in plan.mix))
    total = sum(counts)
    forced = sorted(
        zip(
            rng.sample(range(total), min(total, len(plan.mandatory))), plan.mandatory, strict=False
        ),
        reverse=True,
    )
    pending: list[str] = []
    seen = 0
    for day, n in enumerate(counts):
        if not n:
            continue
        while forced and forced[-1][0] < seen + n:
            pending.append(forced.pop()[1])
        _one_day(stream, writer, day, n, rng.choices(kinds, cum_weights=cum, k=n), pending)
        seen += n


def _one_day(
    stream: EventStream,
    writer: act.ShardWriter,
    day: int,
    n: int,
    kinds: list[str],
    pending: list[str],
) -> None:
    rng = stream.rng
    times = times_in_day(rng, n, stream.tl.limit_of(day))
    clients = rng.choices(act.CLIENT_IDS, cum_weights=act.CLIENT_CUM, k=n)
    base = stream.start_ms + day * DAY_MS
    write, i = writer.write, 0
    while i < n:
        from_pending = bool(pending)
        kind = pending.pop() if from_pending else kinds[i]
        lines = stream.emit(kind, clients[i], base + times[i] // 1000, i + 1 < n)
        if lines is None:
            if from_pending:
                pending.append(kind)
            lines = stream.emit("channel_opened", clients[i], base + times[i] // 1000, False)
            assert lines is not None  # channel_opened is no pair: emit always has its line
        for line in lines:
            write(line)
        i += len(lines)


def write_activity(
    pz: PackageZip,
    root: str,
    world: World,
    tl: Timeline,
    tally: Tally,
    options: act.ActivityOptions,
    place: int,
    final: bool,
) -> None:
    """Write every activity folder; `final` puts the package's newest instant in analytics."""
    templates = Templates(options.seed, world.owner.id, act.ev.PLACES[place])
    for plan in act.plan_folders(options):
        stream = EventStream(
            random.Random(f"{options.seed}:{plan.name}"), tl, world, templates, tally, plan.name
        )
        if options.key_order != "fixed":
            quotas = act.shard_quotas(plan.lines, plan.shards)
            stream.order = KeyOrder(options.key_order, options.seed, plan.name, quotas)
        writer = act.ShardWriter(
            pz, f"{root}/{plan.name}", tl.date_of(tl.days - 1).year, plan.shards, plan.lines
        )
        _write_folder(stream, writer, plan, world, final)
        tally.lines[plan.name] += plan.lines


def _write_folder(
    stream: EventStream, writer: act.ShardWriter, plan: act.FolderPlan, world: World, final: bool
) -> None:
    extra = predicted_lines(world.owner.id) if plan.name == "analytics" and plan.lines >= 10 else []
    last = 1 if final and plan.name == "analytics" and plan.lines > len(extra) else 0
    for line in extra:
        writer.write(line)
    if stream.order is not None:
        stream.order.skip(len(extra))
    stream.tally.no_event_type += len(extra)
    write_days(stream, writer, allocate(plan.lines - len(extra) - last, stream.tl.day_cum), plan)
    if last:
        writer.write(stream.final_line())
    writer.close()
