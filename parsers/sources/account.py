"""Read user.json (owner, relationships, old payments) and the layout D payments.json."""

from collections import Counter
from dataclasses import dataclass, field

import orjson

from parsers.errors import InvalidPackage
from parsers.sources.json_values import json_text

RELATIONSHIP_NAMES = {
    1: "FRIEND",
    2: "BLOCKED",
    3: "PENDING_INCOMING",
    4: "PENDING_OUTGOING",
    5: "IMPLICIT",
}
VIRTUAL_CURRENCIES = frozenset({"discord_orb"})


@dataclass
class Person:
    """A Discord user as shown in views."""

    id: str
    username: str | None = None
    display_name: str | None = None
    avatar_hash: str | None = None

    @property
    def avatar_url(self) -> str | None:
        """Return the CDN avatar URL, or None without a hash."""
        if not self.avatar_hash:
            return None
        extension = "gif" if self.avatar_hash.startswith("a_") else "png"
        return f"https://cdn.discordapp.com/avatars/{self.id}/{self.avatar_hash}.{extension}"


@dataclass
class Account:
    """What the account section of a package says."""

    owner: Person | None = None
    relationships: dict[str, tuple[str, Person]] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)


def parse_user_json(data: bytes, account: Account) -> None:
    """Fill the account from user.json bytes; raise InvalidPackage when it is not a JSON object."""
    try:
        user = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidPackage("The account file of the package is not valid JSON.") from error
    if not isinstance(user, dict):
        raise InvalidPackage("The account file of the package is not a JSON object.")
    owner_id = json_text(user.get("id"))
    if owner_id:
        account.owner = _person(owner_id, user, user.get("avatar_hash") or user.get("avatar"))
    for relation in _list(user.get("relationships")):
        _add_relationship(account, relation)
    add_payments(account, user.get("payments"))


def parse_payments_json(data: bytes, account: Account) -> bool:
    """Add the payments of a layout D payments.json; return False when it cannot be read."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    records = document.get("records") if isinstance(document, dict) else document
    add_payments(account, records)
    return True


def add_payments(account: Account, records: object) -> None:
    """Keep payment records by id (old and new files may list the same payment)."""
    for index, record in enumerate(_list(records)):
        if isinstance(record, dict):
            key = json_text(record.get("id")) or f"#{len(account.payments)}-{index}"
            account.payments[key] = record


def payment_totals(account: Account) -> dict:
    """Return the overview `payments` shape: successful payments summed per lowercase currency."""
    real: Counter[str] = Counter()
    virtual: Counter[str] = Counter()
    count = 0
    for record in account.payments.values():
        paid = successful_payment(record)
        if paid is None:
            continue
        currency, amount = paid
        if currency in VIRTUAL_CURRENCIES:
            virtual[currency] += amount
        else:
            real[currency] += amount
            count += 1
    return {
        "count": count,
        "by_currency": dict(sorted(real.items())),
        "virtual": dict(sorted(virtual.items())),
    }


def successful_payment(record: dict) -> tuple[str, int] | None:
    """(lowercase currency, amount in cents) of a successful payment record; None otherwise."""
    if _number(record.get("status")) != 1:
        return None
    return str(record.get("currency") or "unknown").lower(), _number(record.get("amount")) or 0


def relationship_counts(account: Account) -> Counter[str]:
    """Return how many relationships there are of each kind."""
    return Counter(kind for kind, _ in account.relationships.values())


def _add_relationship(account: Account, relation: object) -> None:
    if not isinstance(relation, dict):
        return
    user = relation.get("user")
    if not isinstance(user, dict):
        user = {}
    user_id = json_text(relation.get("id")) or json_text(user.get("id"))
    if not user_id:
        return
    kind = _relationship_kind(relation.get("type"))
    account.relationships[user_id] = (kind, _person(user_id, user, user.get("avatar")))


def _relationship_kind(value: object) -> str:
    number = _number(value)
    if number is not None:
        return RELATIONSHIP_NAMES.get(int(number), "IMPLICIT")
    text = str(value or "").upper()
    return text if text in RELATIONSHIP_NAMES.values() else "IMPLICIT"


def _person(user_id: str, user: dict, avatar: object) -> Person:
    username = json_text(user.get("username"))
    display = json_text(user.get("global_name")) or json_text(user.get("display_name")) or username
    return Person(user_id, username, display, json_text(avatar))


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None
