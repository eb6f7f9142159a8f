"""Package links: what is accepted, what each one's key material is, and what is refused."""

from __future__ import annotations

import hashlib

import pytest

from storage.crypto import package_id_for
from storage.links import InvalidLink, key_material_of, parse_package_link

UPN = ("Ab0-_." * 100)[:600]
DISCORD = "https://click.discord.com/ls/click?upn="
LINK = DISCORD + UPN
ORIGINS = ("https://dl.example.com",)
SECRET = b"links-test-secret"


def test_a_discord_link_with_a_600_char_upn():
    parsed = parse_package_link(LINK)
    assert (parsed.url, parsed.key_material) == (LINK, UPN)
    assert parsed.package_id == hashlib.md5(UPN.encode()).hexdigest()
    assert key_material_of(LINK) == UPN


@pytest.mark.parametrize(
    "link",
    [
        DISCORD + "a" * 500,
        DISCORD + "a" * 8192,
        "https://click.discord.com:443/ls/click?upn=" + UPN,
        "https://CLICK.discord.com/ls/click?upn=" + UPN,
        DISCORD + UPN + "&utm_source=mail",
    ],
    ids=["min-upn", "max-upn", "port-443", "host-case", "extra-param"],
)
def test_other_accepted_discord_links(link):
    assert parse_package_link(link).key_material.startswith(("a", UPN))


def test_an_allow_listed_origin_link_uses_the_whole_link_as_key_material():
    link = "https://dl.example.com/exports/package.zip?sig=abc"
    parsed = parse_package_link(link, ORIGINS, SECRET)
    assert parsed.key_material == link
    assert parsed.package_id == package_id_for(link, SECRET)
    assert parsed.package_id != hashlib.md5(link.encode()).hexdigest()  # not confirmable offline
    assert key_material_of(link, ORIGINS, SECRET) == link


@pytest.mark.parametrize(
    "link",
    [
        "http://click.discord.com/ls/click?upn=" + UPN,
        "https://discord.com/ls/click?upn=" + UPN,
        "https://evil.example/ls/click?upn=" + UPN,
        "https://click.discord.com@evil.example/ls/click?upn=" + UPN,
        "https://click.discord.com.evil.example/ls/click?upn=" + UPN,
        "https://click.discord.com./ls/click?upn=" + UPN,
        "https://click.discord.com:8443/ls/click?upn=" + UPN,
        "https://click.discord.com/ls/other?upn=" + UPN,
        "https://click.discord.com/ls/click/?upn=" + UPN,
        "https://click.discord.com//ls/click?upn=" + UPN,
        DISCORD + "a" * 499,
        DISCORD + "a" * 8193,
        DISCORD + UPN[:-1] + "+",
        DISCORD + UPN[:-1] + "/",
        DISCORD + UPN[:-1] + "=",
        DISCORD + UPN[:-1] + "%25",
        DISCORD + UPN[:-1] + "\u0661",
        DISCORD + UPN + "&upn=" + UPN,
        DISCORD + UPN + "&upn=",
        "https://click.discord.com/ls/click?UPN=" + UPN,
        "https://click.discord.com/ls/click",
        "https://127.0.0.1/ls/click?upn=" + UPN,
        "https://[::1]/ls/click?upn=" + UPN,
        "https://[::ffff:127.0.0.1]/ls/click?upn=" + UPN,
        " " + LINK,
        LINK + "\n",
        LINK[:50] + "\t" + LINK[50:],
        LINK + "\u00a0",
        "https://click.discord.com\\@evil.example/ls/click?upn=" + UPN,
        "https://user:pass@click.discord.com/ls/click?upn=" + UPN,
        "https://user@click.discord.com/ls/click?upn=" + UPN,
        LINK + "#fragment",
        LINK + "#",
        "https://click.discord.com:notaport/ls/click?upn=" + UPN,
        "//click.discord.com/ls/click?upn=" + UPN,
        "",
        "h" * 16385,
    ],
)
def test_refused_links(link):
    with pytest.raises(InvalidLink):
        parse_package_link(link, ORIGINS)


@pytest.mark.parametrize(
    "link",
    [
        "http://dl.example.com/package.zip",
        "https://dl.example.com",
        "https://dl.example.com/",
        "https://dl.example.com:8443/package.zip",
        "https://dl.example.com.evil.example/package.zip",
        "https://evil.example/https://dl.example.com/package.zip",
        "https://user@dl.example.com/package.zip",
        "https://dl.example.com/package.zip#x",
        "https://dl.example.com/package.zip#",
        "https://dl.example.com/pack\x7fage.zip",
    ],
)
def test_refused_allow_listed_origin_links(link):
    with pytest.raises(InvalidLink):
        parse_package_link(link, ORIGINS)


def test_an_origin_is_only_accepted_when_allow_listed():
    with pytest.raises(InvalidLink):
        parse_package_link("https://dl.example.com/package.zip")


@pytest.mark.parametrize("value", [None, 42, b"https://click.discord.com"])
def test_non_strings_are_refused(value):
    with pytest.raises(InvalidLink):
        parse_package_link(value)
