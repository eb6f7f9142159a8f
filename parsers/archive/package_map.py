"""Where each kind of file of a package lives in the zip, found by file pattern."""

import contextlib
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field

ACTIVITY_SOURCES = ("analytics", "modeling", "reporting", "tns")
_ID = r"\d{16,32}"
_CHANNEL_FILE = re.compile(rf"(?P<root>(?:.*/)?)(?P<folder>c?(?P<id>{_ID}))/(?P<file>[^/]+)")
_GUILD_FILE = re.compile(rf"(?P<root>(?:.*/)?)(?P<id>{_ID})/guild\.json")
_USER_FILE = re.compile(r"(?P<root>(?:.*/)?)user\.json")
_PAYMENTS_FILE = re.compile(r"(?:.*/)?discord_billing/payments\.json")
_INDEX_FILE = re.compile(r"(?P<root>(?:.*/)?)index\.json")
_ACTIVITY_FILE = re.compile(
    r"(?P<root>(?:.*/)?)(?P<source>analytics|modeling|reporting|tns)/events-\d{4}-\d+-of-\d+\.json"
)
# Server folder names of every known language, for the index.json-only fallback.
_SERVER_FOLDERS = frozenset({"servers", "serveurs", "server", "servidores", "serwery", "sunucular"})
_CHANNEL_FILES = {"channel.json", "messages.json", "messages.csv"}
_CHANNEL_FILE_ENDS = tuple(f"/{name}" for name in _CHANNEL_FILES)


@dataclass
class ChannelFiles:
    """The files of one channel folder of the messages root."""

    channel_id: str
    prefixed: bool
    channel_json: zipfile.ZipInfo | None = None
    messages: zipfile.ZipInfo | None = None


@dataclass
class PackageMap:
    """Where each kind of file of the package lives in the zip."""

    account_root: str | None = None
    user_json: zipfile.ZipInfo | None = None
    payments_json: zipfile.ZipInfo | None = None
    messages_root: str | None = None
    messages_index: zipfile.ZipInfo | None = None
    channels: dict[str, ChannelFiles] = field(default_factory=dict)
    servers_root: str | None = None
    servers_index: zipfile.ZipInfo | None = None
    guilds: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    activity_root: str | None = None
    activity: list[tuple[str, zipfile.ZipInfo]] = field(default_factory=list)


def entry_name(info: zipfile.ZipInfo) -> str:
    """Return the entry name, repairing UTF-8 names stored without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return name.replace("\\", "/")


def map_package(infos: list[zipfile.ZipInfo]) -> PackageMap:
    """Find the account, messages, servers and activity roots by file pattern."""
    files = [
        (name, info)
        for info in infos
        if not info.is_dir() and not _is_noise(name := entry_name(info))
    ]
    found = PackageMap()
    _map_messages(found, files)
    _map_account(found, files)
    _map_activity(found, files)
    _map_servers(found, files)
    return found


def _is_noise(name: str) -> bool:
    return (
        name.startswith("__MACOSX/") or "/__MACOSX/" in name or name.rsplit("/", 1)[-1][:2] == "._"
    )


def _map_messages(found: PackageMap, files: list[tuple[str, zipfile.ZipInfo]]) -> None:
    roots: Counter[str] = Counter()
    matches = []
    for name, info in files:
        if not name.endswith(_CHANNEL_FILE_ENDS):  # what the pattern needs, found faster
            continue
        match = _CHANNEL_FILE.fullmatch(name)
        if match and match["file"] in _CHANNEL_FILES:
            roots[match["root"]] += 1
            matches.append((match, info))
    if not roots:
        return
    root = roots.most_common(1)[0][0]
    found.messages_root = root
    for match, info in matches:
        if match["root"] != root:
            continue
        channel = found.channels.setdefault(
            match["id"], ChannelFiles(match["id"], match["folder"].startswith("c"))
        )
        if match["file"] == "channel.json":
            channel.channel_json = info
        elif channel.messages is None or match["file"] == "messages.json":
            channel.messages = info
    found.messages_index = _find(files, root + "index.json")


def _map_account(found: PackageMap, files: list[tuple[str, zipfile.ZipInfo]]) -> None:
    candidates = [
        (name.count("/"), match["root"], info)
        for name, info in files
        if name.endswith("user.json")
        and (match := _USER_FILE.fullmatch(name))
        and match["root"] != found.messages_root
    ]
    if candidates:
        _, found.account_root, found.user_json = min(candidates, key=lambda item: item[:2])
    payments = [
        (name.count("/"), name, info)
        for name, info in files
        if name.endswith("payments.json") and _PAYMENTS_FILE.fullmatch(name)
    ]
    if payments:
        found.payments_json = min(payments, key=lambda item: item[:2])[2]


def _map_servers(found: PackageMap, files: list[tuple[str, zipfile.ZipInfo]]) -> None:
    roots: Counter[str] = Counter()
    guild_files = []
    for name, info in files:
        if not name.endswith("/guild.json"):
            continue
        match = _GUILD_FILE.fullmatch(name)
        if match and match["root"] != found.messages_root:
            roots[match["root"]] += 1
            guild_files.append((match, info))
    if roots:
        found.servers_root = roots.most_common(1)[0][0]
    else:
        found.servers_root = _fallback_servers_root(found, files)
    if found.servers_root is None:
        return
    found.guilds = {m["id"]: info for m, info in guild_files if m["root"] == found.servers_root}
    found.servers_index = _find(files, found.servers_root + "index.json")


def _fallback_servers_root(
    found: PackageMap, files: list[tuple[str, zipfile.ZipInfo]]
) -> str | None:
    excluded = {found.messages_root, found.account_root, found.activity_root}
    candidates = [
        (
            root.rstrip("/").rsplit("/", 1)[-1].casefold() not in _SERVER_FOLDERS,
            root.count("/"),
            root,
        )
        for name, _ in files
        if name.endswith("index.json")
        and (match := _INDEX_FILE.fullmatch(name))
        and (root := match["root"]) not in excluded
        and root
        and not (found.messages_root and root.startswith(found.messages_root))
    ]
    return min(candidates)[2] if candidates else None


def _map_activity(found: PackageMap, files: list[tuple[str, zipfile.ZipInfo]]) -> None:
    found.activity, roots = _activity_of(files)
    if roots:
        found.activity_root = roots.most_common(1)[0][0]


def activity_shards(infos: list[zipfile.ZipInfo]) -> list[tuple[str, zipfile.ZipInfo]]:
    """The (source, ZipInfo) activity shards of the zip, in reading order: `map_package`'s
    `activity`, found without mapping the rest (a name holds "events-" after `entry_name`'s
    repair exactly when its raw name does: that text is ASCII)."""
    files = [
        (name, info)
        for info in infos
        if "events-" in info.filename
        and not info.is_dir()
        and not _is_noise(name := entry_name(info))
    ]
    return _activity_of(files)[0]


def _activity_of(files: list[tuple[str, zipfile.ZipInfo]]):
    """The activity shards among the files, in reading order, and their roots' counts."""
    shards = []
    roots: Counter[str] = Counter()
    for name, info in files:
        match = "events-" in name and _ACTIVITY_FILE.fullmatch(name)
        if match:
            shards.append((match["source"], name, info))
            roots[match["root"]] += 1
    shards.sort(key=lambda item: (ACTIVITY_SOURCES.index(item[0]), item[1]))
    return [(source, info) for source, _, info in shards], roots


def _find(files: list[tuple[str, zipfile.ZipInfo]], wanted: str) -> zipfile.ZipInfo | None:
    return next((info for name, info in files if name == wanted), None)
