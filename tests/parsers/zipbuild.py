"""Helpers that build tiny Discord packages as zips inside tests."""

import json
import zipfile
from pathlib import Path

import orjson

from api.series import served_period
from parsers.package import analyze_package

OWNER = "100000000000000001"
FRIEND = "200000000000000002"
BLOCKED = "200000000000000003"
GUILD = "300000000000000004"
GENERAL = "400000000000000005"
DM = "400000000000000006"
GROUP = "400000000000000007"

FOLDERS = {
    "en": ("account", "messages", "servers", "activity"),
    "en-D": ("Account", "Messages", "Servers", "Activity"),
    "fr": ("Compte", "Messages", "Serveurs", "Activité"),
    "de": ("Konto", "Nachrichten", "Server", "Aktivität"),
    "es": ("Cuenta", "Mensajes", "Servidores", "Actividad"),
    "pt": ("Conta", "Mensagens", "Servidores", "Atividade"),
}


def encode(content) -> bytes:
    """Turn test content into bytes: dicts and lists as JSON, text as UTF-8."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode()
    return json.dumps(content).encode()


def write_zip(path: Path, files: dict, *, directories: bool = False) -> Path:
    """Write a zip of {name: content}, optionally with directory entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if directories:
            folders = {
                name.rsplit("/", i)[0] + "/"
                for name in files
                for i in range(1, name.count("/") + 1)
            }
            for folder in sorted(folders):
                archive.writestr(folder, b"")
        for name, content in files.items():
            archive.writestr(name, encode(content))
    return path


def messages_csv(rows: list[tuple[str, str, str]]) -> bytes:
    """Render (id, timestamp, contents) rows as a Discord messages.csv (CRLF, quoting as needed)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["ID", "Timestamp", "Contents", "Attachments"])
    for message_id, timestamp, contents in rows:
        writer.writerow([message_id, timestamp, contents, ""])
    return out.getvalue().encode()


def messages_json(rows: list[tuple[str, str, str]]) -> bytes:
    """Render rows as a Discord messages.json: `[`, one object per line joined by `,\\n`, `]`."""
    lines = [
        f'{{"ID": {message_id}, "Timestamp": "{timestamp}", "Contents": {json.dumps(contents)}, '
        '"Attachments": ""}'
        for message_id, timestamp, contents in rows
    ]
    return ("[\n" + ",\n".join(lines) + "\n]").encode() if lines else b"[]"


def user_json(**extra) -> dict:
    """A user.json with an owner, a friend (int type) and a blocked user (string type)."""
    document = {
        "id": OWNER,
        "username": "alice",
        "global_name": "Alice",
        "avatar_hash": "a_abc",
        "relationships": [
            {
                "id": FRIEND,
                "type": 1,
                "user": {"id": FRIEND, "username": "bob", "global_name": "Bob"},
            },
            {"id": BLOCKED, "type": "BLOCKED", "user": {"id": BLOCKED, "username": "eve"}},
        ],
    }
    document.update(extra)
    return document


def standard_channels() -> dict[str, dict]:
    """channel.json documents: a guild text channel, a DM with the friend, a group DM."""
    return {
        GENERAL: {
            "id": GENERAL,
            "type": 0,
            "name": "general",
            "guild": {"id": GUILD, "name": "Guild"},
        },
        DM: {"id": DM, "type": 1, "recipients": [OWNER, FRIEND]},
        GROUP: {"id": GROUP, "type": 3, "name": "pals", "recipients": [OWNER, FRIEND, BLOCKED]},
    }


def package(
    layout: str = "C",
    *,
    language: str = "en",
    wrapper: str = "",
    channels: dict[str, dict] | None = None,
    messages: dict[str, list] | None = None,
    events: dict[str, list] | None = None,
    user: dict | None = None,
    sections: tuple[str, ...] = ("account", "messages", "servers", "activity"),
) -> dict:
    """Return {name: content} for a package of the given layout."""
    language = "en-D" if layout == "D" and language == "en" else language
    account, messages_root, servers, activity = (wrapper + name for name in FOLDERS[language])
    files: dict = {}
    if "account" in sections:
        files[f"{account}/user.json"] = user if user is not None else user_json()
    channels = standard_channels() if channels is None else channels
    messages = {} if messages is None else messages
    if "messages" in sections:
        files[f"{messages_root}/index.json"] = dict.fromkeys(channels)
        for cid, document in channels.items():
            folder = f"{messages_root}/{cid if layout == 'A' else 'c' + cid}"
            files[f"{folder}/channel.json"] = document
            rows = messages.get(cid, [])
            if layout in "AB":
                files[f"{folder}/messages.csv"] = messages_csv(rows)
            else:
                files[f"{folder}/messages.json"] = messages_json(rows)
    if "servers" in sections:
        files[f"{servers}/index.json"] = {GUILD: "Guild"}
        files[f"{servers}/{GUILD}/guild.json"] = {"id": GUILD, "name": "Guild"}
    if "activity" in sections:
        for source, lines in (events or {"analytics": []}).items():
            files[f"{activity}/{source}/events-2024-00000-of-00001.json"] = ndjson(lines)
    return files


def ndjson(lines: list) -> bytes:
    """Render events (dicts, or raw text/bytes lines) as newline-delimited JSON."""
    return b"".join(encode(line) + b"\n" for line in lines)


def event(event_type: str, timestamp: str, **fields) -> dict:
    """An activity event whose timestamp carries its own quotes, as in recent exports."""
    return {"event_type": event_type, "timestamp": f'"{timestamp}"', **fields}


def analyze(tmp_path: Path, files: dict, **options):
    """Write the files as a zip and analyze it; return (analysis, {view name: served document})."""
    path = write_zip(tmp_path / "package.zip", files, directories=options.pop("directories", False))
    analysis = analyze_package(path, package_id="0" * 32, **options)
    return analysis, served_views(analysis.views())


def view_texts(views) -> dict[str, bytes]:
    """{view name: the JSON text sealed and stored for it}."""
    return {name: orjson.dumps(document) for name, document in views}


def served_views(views) -> dict:
    """{view name: document} with every per-day series zero-filled, as the API serves them:
    each document read back from the JSON text stored (an entity's periods are that text
    already, `orjson.Fragment`)."""
    documents = {name: orjson.loads(text) for name, text in view_texts(views).items()}
    for name, document in documents.items():
        if name.startswith("stats:"):
            served_period(document)
        for figures in document.get("periods", {}).values():
            served_period(figures)
    return documents
