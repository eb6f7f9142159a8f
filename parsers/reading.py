"""Read each kind of package file from the zip into the package aggregates."""

import zipfile
from collections import Counter
from collections.abc import Callable

from parsers.activity.rules import SourceTally
from parsers.activity.scan import read_activity_fast
from parsers.aggregate.package_data import PackageData
from parsers.archive.members import open_member
from parsers.archive.package_map import PackageMap
from parsers.limits import ParseLimits
from parsers.sources.account import parse_payments_json, parse_user_json
from parsers.sources.channels import guild_name, load_json, parse_channel, parse_index
from parsers.sources.messages import MessageSink, read_messages_csv
from parsers.sources.messages_fast import read_messages_json_fast
from parsers.streams import Progress, read_small


class PackageReader:
    """Streams the members of a mapped package into a PackageData."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        found: PackageMap,
        data: PackageData,
        limits: ParseLimits,
        progress: Progress,
    ) -> None:
        self.archive = archive
        self.found = found
        self.data = data
        self.limits = limits
        self.progress = progress
        self.tallies: dict[str, SourceTally] = {}
        self.hour_numbers: dict[str, int] = {}  # shared by the message sinks of this package
        # Called between members (the parent's chance to relay the activity child's progress).
        self.between: Callable[[], None] | None = None
        self.with_activity = True

    def members(self) -> list[zipfile.ZipInfo]:
        """Return every member that will be read (for the progress total)."""
        found = self.found
        infos = [found.user_json, found.payments_json, found.messages_index, found.servers_index]
        infos += list(found.guilds.values())
        for channel in found.channels.values():
            infos += [channel.channel_json, channel.messages]
        infos += [info for _, info in found.activity]
        return [info for info in infos if info is not None]

    def read_all(self) -> None:
        """Read the account first (to fail fast), then every other member in archive order."""
        if self.found.user_json is not None:
            self._user_json(self.found.user_json)
        # Archive order keeps the reads sequential on disk.
        for *_, task, argument in sorted(self._tasks(), key=lambda item: item[:2]):
            task(argument)
            if self.between is not None:
                self.between()

    def _tasks(self) -> list:
        found = self.found
        tasks: list[tuple] = []

        def add(info, task, argument=None) -> None:
            if info is not None:
                tasks.append(
                    (info.header_offset, len(tasks), task, info if argument is None else argument)
                )

        add(found.payments_json, self._payments_json)
        add(found.messages_index, self._messages_index)
        add(found.servers_index, self._servers_index)
        for guild_id, info in found.guilds.items():
            add(info, self._guild_json, (guild_id, info))
        for channel_id, channel in found.channels.items():
            add(channel.channel_json, self._channel_json, (channel_id, channel.channel_json))
            add(channel.messages, self._messages, (channel_id, channel.messages))
        if self.with_activity:
            for source, info in found.activity:
                add(info, self._activity, (source, info))
        return tasks

    def _small(self, info: zipfile.ZipInfo) -> bytes | None:
        if info.file_size > self.limits.max_json_file_bytes:
            self.data.skipped.add("file_too_large")
            self.progress.advance(info.file_size)
            return None
        with open_member(self.archive, info, self.progress) as stream:
            data = read_small(stream, self.limits.max_json_file_bytes)
        if data is None:
            self.data.skipped.add("file_too_large")
        return data

    def _user_json(self, info: zipfile.ZipInfo) -> None:
        raw = self._small(info)
        if raw is not None:
            parse_user_json(raw, self.data.account)
            self.data.files["account"] += 1

    def _payments_json(self, info: zipfile.ZipInfo) -> None:
        raw = self._small(info)
        if raw is not None and parse_payments_json(raw, self.data.account):
            self.data.files["account"] += 1
        elif raw is not None:
            self.data.skipped.add("invalid_json")

    def _messages_index(self, info: zipfile.ZipInfo) -> None:
        raw = self._small(info)
        if raw is not None:
            self.data.labels = parse_index(load_json(raw))

    def _servers_index(self, info: zipfile.ZipInfo) -> None:
        raw = self._small(info)
        if raw is not None:
            self.data.files["servers"] += 1
            for guild_id, name in parse_index(load_json(raw)).items():
                if name:
                    self.data.guild_names.setdefault(guild_id, name)

    def _guild_json(self, item: tuple[str, zipfile.ZipInfo]) -> None:
        guild_id, info = item
        raw = self._small(info)
        if raw is not None:
            self.data.files["servers"] += 1
            _, name = guild_name(load_json(raw))
            if name:
                self.data.guild_names[guild_id] = name

    def _channel_json(self, item: tuple[str, zipfile.ZipInfo]) -> None:
        channel_id, info = item
        raw = self._small(info)
        self.data.files["channels"] += 1
        self.data.channels[channel_id] = parse_channel(
            channel_id, None if raw is None else load_json(raw)
        )

    def _messages(self, item: tuple[str, zipfile.ZipInfo]) -> None:
        channel_id, info = item
        counts = self.data.message_hours.setdefault(channel_id, Counter())
        sink = MessageSink(counts, self.data.skipped, self.hour_numbers)
        reader = read_messages_csv if info.filename.endswith(".csv") else read_messages_json_fast
        with open_member(self.archive, info, self.progress) as stream:
            reader(stream, sink, self.limits.max_line_bytes)
        self.data.files["messages"] += 1
        self.data.message_records += sink.records
        self.data.note_messages(sink.first, sink.last)

    def _activity(self, item: tuple[str, zipfile.ZipInfo]) -> None:
        source, info = item
        tally = self.tallies.setdefault(source, SourceTally())
        with open_member(self.archive, info, self.progress) as stream:
            lines = read_activity_fast(stream, tally, self.data.skipped, self.limits.max_line_bytes)
        self.data.files["activity"] += 1
        self.data.activity_lines += lines
