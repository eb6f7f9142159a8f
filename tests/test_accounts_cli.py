"""`python -m accounts`: the first steps of the account layer, from a shell, on the real store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import Settings
from storage import open_store
from storage.identity import KEY_PREFIX

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "SECRET_KEY": "cli-secret"}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "accounts", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (done.returncode == 0) is ok, done.stderr
        return done

    return run


def test_first_steps_from_organization_to_key(run, tmp_path):
    organization = run("create-organization", "Acme").stdout.strip()
    args = ["--email", "Root@Acme.io", "--username", "root", "--organization", organization]
    account = run("create-account", *args, "--superuser").stdout.strip()
    made = run("create-key", "--email", "root@acme.io", "--name", "laptop")
    key = made.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "shown once" in made.stderr
    store = open_store(Settings(data_dir=tmp_path, secret_key="cli-secret"))
    try:
        record = store.identity.api_keys.find(key)
        assert record is not None and record.account_id == account
        assert store.identity.accounts.get(account).is_superuser
    finally:
        store.close()
    listed = run("list-keys", "--email", "root@acme.io").stdout
    assert record.id in listed and key[: len(KEY_PREFIX) + 8] in listed
    assert key not in listed  # listings show the prefix only
    assert "live" in listed
    run("revoke-key", record.id)
    assert "revoked" in run("list-keys", "--email", "root@acme.io").stdout
    assert organization in run("list-organizations").stdout
    assert "root@acme.io" in run("list-accounts", "--organization", organization).stdout


def test_deactivation_and_its_refusals(run):
    organization = run("create-organization", "Acme").stdout.strip()
    run("create-account", "--email", "a@x.io", "--username", "a", "--organization", organization)
    run("deactivate-account", "--email", "a@x.io")
    assert "inactive" in run("list-accounts").stdout
    run("activate-account", "--email", "a@x.io")
    run("deactivate-organization", organization)
    assert "inactive" in run("list-organizations").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("create-account", "--email", "a@x.io", "--username", "a", "--organization", "nope"),
        ("create-key", "--email", "nobody@x.io", "--name", "k"),
        ("revoke-key", "no-such-key"),
        ("deactivate-organization", "no-such-organization"),
    ],
)
def test_a_refusal_is_one_line_and_status_1(run, args):
    done = run(*args, ok=False)
    assert done.returncode == 1 and done.stderr.startswith("accounts: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_duplicate_email_is_refused(run):
    organization = run("create-organization", "Acme").stdout.strip()
    args = (
        "create-account",
        "--email",
        "a@x.io",
        "--username",
        "a",
        "--organization",
        organization,
    )
    run(*args)
    assert "already exists" in run(*args, ok=False).stderr


def test_a_store_and_its_key_from_the_command_line(run, tmp_path):
    organization = run("create-organization", "Acme").stdout.strip()
    other = run("create-organization", "Beta").stdout.strip()
    run(
        "create-account",
        "--email",
        "ada@acme.io",
        "--username",
        "a",
        "--organization",
        organization,
    )
    run("create-account", "--email", "bob@beta.io", "--username", "b", "--organization", other)
    shop = run("create-store", "--organization", organization, "--name", "Acme shop").stdout.strip()
    made = run("create-store-key", "--store", shop, "--email", "ada@acme.io", "--name", "checkout")
    key = made.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "shown once" in made.stderr
    refused = run(
        "create-store-key", "--store", shop, "--email", "bob@beta.io", "--name", "x", ok=False
    )
    assert "not in the store's organization" in refused.stderr
    store = open_store(Settings(data_dir=tmp_path, secret_key="cli-secret"))
    try:
        record = store.identity.api_keys.find(key)
        assert record is not None and record.storefront_id == shop
    finally:
        store.close()
    assert shop in run("list-stores", "--organization", organization).stdout
    listed = run("list-store-keys", "--store", shop).stdout
    assert record.id in listed and key not in listed
    assert record.id not in run("list-keys", "--email", "ada@acme.io").stdout
    unknown = run("create-store", "--organization", "nope", "--name", "x", ok=False)
    assert "no organization" in unknown.stderr
