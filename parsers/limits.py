"""Named limits that bound what a package may cost to read."""

from dataclasses import dataclass

MIB = 1024 * 1024
GB = 1000 * 1000 * 1000


@dataclass(frozen=True)
class ParseLimits:
    """Limits checked before and while a package is read."""

    max_entries: int = 200_000
    max_total_uncompressed: int = 200 * GB
    # Compression ratio allowed per entry; only entries bigger than ratio_min_size are checked.
    max_ratio: float = 200.0
    ratio_min_size: int = 1 * MIB
    # A longer line is skipped and counted, and never held whole in memory.
    max_line_bytes: int = 8 * MIB
    # user.json, channel.json, index.json, guild.json and payments.json are loaded whole below this.
    max_json_file_bytes: int = 64 * MIB
    # on_progress is called at least every this many uncompressed bytes.
    progress_every_bytes: int = 4 * MIB
    # Activity shards at least this big (in total) are read by a second process, in parallel.
    activity_process_min_bytes: int = 32 * MIB


DEFAULT_LIMITS = ParseLimits()
