"""`python -m accounts <command>`: organizations, accounts, stores and their API keys.

    python -m accounts create-organization "Acme"
    python -m accounts create-account --email ada@acme.io --username ada --organization <id> \\
        [--superuser]
    python -m accounts create-key --email ada@acme.io --name laptop     # the key is shown once
    python -m accounts create-store --organization <id> --name "Acme shop"
    python -m accounts create-store-key --store <id> --email ada@acme.io --name checkout  # once
    python -m accounts list-stores [--organization <id>] | list-store-keys --store <id>
    python -m accounts list-organizations | list-accounts [--organization <id>]
    python -m accounts list-keys --email ada@acme.io
    python -m accounts revoke-key <key id>
    python -m accounts deactivate-account --email ada@acme.io | activate-account ...
    python -m accounts deactivate-organization <id> | activate-organization <id>

It opens the configured store (the same settings as the API: `MONGO_URL` or `DATA_DIR`). Errors
are one line on standard error and exit status 1; bad settings, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from settings import load_or_exit
from storage import Store, open_store
from storage.identity import Account, ApiKey, DuplicateEmail, UnknownOrganization, new_api_key

PAGE = 1000


class CommandError(Exception):
    """A refusal worth one line to the operator."""


def _account(store: Store, email: str) -> Account:
    account = store.identity.accounts.get_by_email(email)
    if account is None:
        raise CommandError(f"no account has the e-mail {email}")
    return account


def create_organization(store: Store, args: argparse.Namespace) -> None:
    organization = store.identity.organizations.create(args.name, time.time())
    print(organization.id)


def create_account(store: Store, args: argparse.Namespace) -> None:
    try:
        account = store.identity.accounts.create(
            args.email, args.username, args.organization, args.superuser, time.time()
        )
    except DuplicateEmail:
        raise CommandError(f"an account with the e-mail {args.email} already exists") from None
    except UnknownOrganization:
        raise CommandError(f"no organization has the id {args.organization}") from None
    print(account.id)


def create_key(store: Store, args: argparse.Namespace) -> None:
    account = _account(store, args.email)
    key = new_api_key()
    record = store.identity.api_keys.create(account.id, args.name, key, time.time())
    print(f"key id: {record.id}", file=sys.stderr)
    print("the key below is shown once: keep it now", file=sys.stderr)
    print(key)


def create_store(store: Store, args: argparse.Namespace) -> None:
    try:
        storefront = store.identity.storefronts.create(args.name, args.organization, time.time())
    except UnknownOrganization:
        raise CommandError(f"no organization has the id {args.organization}") from None
    print(storefront.id)


def create_store_key(store: Store, args: argparse.Namespace) -> None:
    """A key for the store, made by (and recorded under) an account of its organization."""
    maker = _account(store, args.email)
    storefront = store.identity.storefronts.get(args.store)
    if storefront is None:
        raise CommandError(f"no store has the id {args.store}")
    if maker.organization_id != storefront.organization_id and not maker.is_superuser:
        raise CommandError(f"{maker.email} is not in the store's organization")
    key = new_api_key()
    record = store.identity.api_keys.create(
        maker.id, args.name, key, time.time(), storefront_id=storefront.id
    )
    print(f"key id: {record.id}", file=sys.stderr)
    print("the key below is shown once: keep it now", file=sys.stderr)
    print(key)


def list_stores(store: Store, args: argparse.Namespace) -> None:
    for storefront in store.identity.storefronts.list(args.organization, 0, PAGE).items:
        state = "active" if storefront.is_active else "blocked"
        print(f"{storefront.id}\t{state}\t{storefront.organization_id}\t{storefront.name}")


def list_store_keys(store: Store, args: argparse.Namespace) -> None:
    _print_keys(store.identity.api_keys.list_for_storefront(args.store))


def list_organizations(store: Store, args: argparse.Namespace) -> None:
    for organization in store.identity.organizations.list(0, PAGE).items:
        state = "active" if organization.is_active else "inactive"
        print(f"{organization.id}\t{state}\t{organization.name}")


def list_accounts(store: Store, args: argparse.Namespace) -> None:
    for account in store.identity.accounts.list(args.organization, 0, PAGE).items:
        role = "superuser" if account.is_superuser else "member"
        state = "active" if account.is_active else "inactive"
        print(f"{account.id}\t{account.email}\t{role}\t{state}\t{account.organization_id}")


def list_keys(store: Store, args: argparse.Namespace) -> None:
    _print_keys(store.identity.api_keys.list(_account(store, args.email).id))


def _print_keys(keys: list[ApiKey]) -> None:
    for key in keys:
        state = "revoked" if key.is_revoked else "live"
        used = key.last_used_day or "never"
        print(f"{key.id}\t{key.prefix}...\t{state}\tlast used {used}\t{key.name}")


def revoke_key(store: Store, args: argparse.Namespace) -> None:
    if not store.identity.api_keys.revoke(args.key_id, time.time()):
        raise CommandError(f"no live key has the id {args.key_id}")
    print(f"revoked {args.key_id}")


def _set_account(active: bool) -> Callable[[Store, argparse.Namespace], None]:
    def run(store: Store, args: argparse.Namespace) -> None:
        account = _account(store, args.email)
        store.identity.accounts.set_active(account.id, active)
        print(f"{account.email} {'activated' if active else 'deactivated'}")

    return run


def _set_organization(active: bool) -> Callable[[Store, argparse.Namespace], None]:
    def run(store: Store, args: argparse.Namespace) -> None:
        if not store.identity.organizations.set_active(args.organization_id, active):
            raise CommandError(f"no organization has the id {args.organization_id}")
        print(f"{args.organization_id} {'activated' if active else 'deactivated'}")

    return run


def parser() -> argparse.ArgumentParser:
    """The command line, one sub-command per step."""
    main = argparse.ArgumentParser(prog="python -m accounts", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_)
        sub.set_defaults(run=run)
        return sub

    command("create-organization", create_organization, "print the new id").add_argument("name")
    sub = command("create-account", create_account, "print the new id")
    sub.add_argument("--email", required=True)
    sub.add_argument("--username", required=True)
    sub.add_argument("--organization", required=True, help="the organization's id")
    sub.add_argument("--superuser", action="store_true")
    sub = command("create-key", create_key, "print a new API key, once")
    sub.add_argument("--email", required=True)
    sub.add_argument("--name", required=True, help="what the key is for")
    sub = command("create-store", create_store, "print the new id")
    sub.add_argument("--organization", required=True, help="the organization's id")
    sub.add_argument("--name", required=True)
    sub = command("create-store-key", create_store_key, "print a new store API key, once")
    sub.add_argument("--store", required=True, help="the store's id")
    sub.add_argument("--email", required=True, help="the account making it")
    sub.add_argument("--name", required=True, help="what the key is for")
    command("list-stores", list_stores, "id, state, organization, name").add_argument(
        "--organization", default=None
    )
    command("list-store-keys", list_store_keys, "id, prefix, state, last use, name").add_argument(
        "--store", required=True
    )
    command("list-organizations", list_organizations, "id, state, name")
    command("list-accounts", list_accounts, "id, e-mail, role, state").add_argument(
        "--organization", default=None
    )
    command("list-keys", list_keys, "id, prefix, state, last use, name").add_argument(
        "--email", required=True
    )
    command("revoke-key", revoke_key, "revoke a key by id").add_argument("key_id")
    for name, active in (("activate", True), ("deactivate", False)):
        command(f"{name}-account", _set_account(active), name).add_argument(
            "--email", required=True
        )
        command(f"{name}-organization", _set_organization(active), name).add_argument(
            "organization_id"
        )
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    store = open_store(load_or_exit())
    try:
        args.run(store, args)
    except CommandError as exc:
        print(f"accounts: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
