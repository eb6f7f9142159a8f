"""Tell the layout variant (A, B, C, D) and the language of the top folder names."""

import unicodedata

from parsers.archive.package_map import PackageMap

# Top folder names of the account, messages, servers and activity roots, per language.
_FOLDER_NAMES = {
    "en": ("account", "messages", "servers", "activity"),
    "fr": ("compte", "messages", "serveurs", "activite"),
    "de": ("konto", "nachrichten", "server", "aktivitat"),
    "es": ("cuenta", "mensajes", "servidores", "actividad"),
    "pt": ("conta", "mensagens", "servidores", "atividade"),
    "it": ("account", "messaggi", "server", "attivita"),
    "nl": ("account", "berichten", "servers", "activiteit"),
    "pl": ("konto", "wiadomosci", "serwery", "aktywnosc"),
    "tr": ("hesap", "mesajlar", "sunucular", "etkinlik"),
}
_LANGUAGE_ORDER = tuple(_FOLDER_NAMES)


def top_folder_names(found: PackageMap) -> list[str]:
    """Return the last folder name of each root found (account, messages, servers, activity)."""
    roots = (found.account_root, found.messages_root, found.servers_root, found.activity_root)
    return [root.rstrip("/").rsplit("/", 1)[-1] for root in roots if root]


def folder_language(names: list[str]) -> str | None:
    """Return the language whose folder names match every given top folder name, or None."""
    candidates = set(_LANGUAGE_ORDER)
    seen = False
    for name in names:
        plain = _plain(name)
        languages = {code for code, words in _FOLDER_NAMES.items() if plain in words}
        if not languages:
            continue
        seen = True
        candidates &= languages
    if not seen or not candidates:
        return None
    return next(code for code in _LANGUAGE_ORDER if code in candidates)


def detect_layout(found: PackageMap, names: list[str]) -> str:
    """Return A, B, C or D from channel folder names, message file kinds and folder casing."""
    # Layout D names top folders in Title-case (and translates them); older layouts are lowercase.
    translated = any(name != name.lower() for name in names)
    if found.payments_json is not None or translated:
        return "D"
    kinds = [
        channel.messages.filename.endswith(".json")
        for channel in found.channels.values()
        if channel.messages
    ]
    if kinds and kinds.count(False) > kinds.count(True):
        prefixed = [channel.prefixed for channel in found.channels.values()]
        return "B" if prefixed.count(True) >= prefixed.count(False) else "A"
    if not kinds and found.channels:
        any_prefixed = any(channel.prefixed for channel in found.channels.values())
        return "B" if any_prefixed else "A"
    return "C"


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
