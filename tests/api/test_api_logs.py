"""Logs: the app's own access line (route template, no link, no Discord id, no query string) and
logsafe's filter, installed on the handlers of every process. The same threats against a real
gunicorn are in tests/integration/test_gunicorn_surface.py."""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import quote

import hypothesis
import pytest
from hypothesis import strategies as st

import logsafe
from api import accesslog, gunicorn_conf
from settings import Settings
from tests.api.api_support import bearer, discord_link, new_upn, path_form
from tests.support.logging_state import restored_logging

PACKAGE_ID = "0123456789abcdef0123456789abcdef"
DISCORD_ID = "112233445566778899"


@pytest.fixture
def access(caplog):
    """The access lines written while the test runs."""
    caplog.set_level(logging.INFO, logger="api.access")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "api.access"]

    return lines


def assert_no_link(text: str, upn: str) -> None:
    """Neither the UPN nor the link's markers, in any case or encoding."""
    assert upn[:40] not in text and upn[-40:] not in text
    lowered = text.lower()
    assert "upn=" not in lowered and "upn%3d" not in lowered and "discord" not in lowered


# -- the access line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/process/{link}", "/api/%70rocess/{link}", "/api%2Fprocess%2F{link}"],
    ids=["path form", "encoded p", "encoded slashes"],
)
def test_a_path_form_submission_logs_its_template(client, access, caplog, path):
    upn = new_upn()
    answer = client.post(path.format(link=quote(discord_link(upn), safe="")))
    assert answer.status_code in (202, 404)
    assert_no_link(caplog.text, upn)
    assert re.fullmatch(
        r"POST (/api/process/<package_link>|<unmatched>) (202|404) \d+\.\dms", access()[-1]
    )


def test_the_access_line_shows_the_template_and_the_package_id_only(client, access, caplog):
    answer = client.get(f"/api/data/{PACKAGE_ID}/user/{DISCORD_ID}?offset=987654")
    assert answer.status_code == 401
    assert access() == [access()[-1]]
    assert re.fullmatch(rf"GET /api/data/{PACKAGE_ID}/user/<user_id> 401 \d+\.\dms", access()[-1])
    assert DISCORD_ID not in caplog.text and "987654" not in caplog.text


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/dm/{id}/stats/lifetime", "/dm/<user_id>/stats/<period>"),
        ("/guild/{id}/stats/lifetime", "/guild/<guild_id>/stats/<period>"),
        ("/channel/{id}/stats/lifetime", "/channel/<channel_id>/stats/<period>"),
    ],
)
def test_entity_routes_log_no_discord_id(client, access, caplog, path, template):
    client.get(f"/api/data/{PACKAGE_ID}{path.format(id=DISCORD_ID)}")
    assert access()[-1].startswith(f"GET /api/data/{PACKAGE_ID}{template} 401 ")
    assert DISCORD_ID not in caplog.text


def test_a_package_id_slot_holding_anything_else_is_not_filled_in(client, access, caplog):
    upn = new_upn()
    client.get(f"/api/data/{upn}/about", headers=bearer(upn))
    client.get(f"/api/process/{upn[:32]}/status", headers=bearer(upn))
    assert re.match(r"GET /api/data/<package_id>/about 4\d\d ", access()[-2])
    assert re.match(r"GET /api/process/<package_id>/status 4\d\d ", access()[-1])
    assert upn[:32] not in caplog.text


def test_an_unmatched_path_and_an_odd_method_are_logged_without_their_values(client, access):
    upn = new_upn()
    client.get(f"/no/such/{quote(discord_link(upn), safe='')}")
    client.open("/health", method="X" + upn[:60].replace(".", ""))
    assert access()[-2].startswith("GET <unmatched> 404 ")
    assert access()[-1].startswith("OTHER <unmatched> 405 ")  # routing failed: no rule


def test_the_dev_server_request_lines_are_dropped(app, caplog):
    """Werkzeug's development server quotes the raw request line; the app's line replaces it."""
    upn = new_upn()
    werkzeug = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        werkzeug.info('127.0.0.1 - - [now] "POST %s HTTP/1.1" 202 -', path_form(discord_link(upn)))
        werkzeug.info(" * Running on http://127.0.0.1:5000")
    assert_no_link(caplog.text, upn)
    assert "Running on" in caplog.text


def test_a_refusal_by_gunicorn_gets_an_unparsed_line(access):
    accesslog.write_line("-", accesslog.UNPARSED, 400, None)
    assert access() == ["- <unparsed> 400 -"]


# -- logsafe's filter ------------------------------------------------------------------------------

UPN = ("AbC.def_0123456789-xyZ" * 40)[:600]
LINK = discord_link(UPN)
LINK_SPELLINGS = {
    "plain": LINK,
    "upper case": LINK.upper(),
    "percent-encoded": quote(LINK, safe=""),
    "encoded twice": quote(quote(LINK, safe=""), safe=""),
    "every character encoded": "".join(f"%{b:02X}" for b in LINK.encode()[:80]),
    "host only": "see https://CLICK.discord.COM/ls/click for the link",
    "upn only, encoded": "token upn%3Dshort and more",
    "host encoded": "click%2Ediscord%2Ecom",
    "a bare UPN": f"key={UPN}",
}


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    """A record as a logger would make it."""
    return logging.LogRecord("test", logging.ERROR, __file__, 1, message, args, exc_info)


@pytest.mark.parametrize("spelling", LINK_SPELLINGS, ids=list(LINK_SPELLINGS))
def test_the_filter_redacts_a_link_in_any_spelling(spelling):
    entry = record("before %s after", LINK_SPELLINGS[spelling])
    assert logsafe.RedactLinks().filter(entry) is True  # rewritten, never dropped
    message = entry.getMessage()
    assert message.startswith("before ") and message.endswith(" after")
    assert logsafe.REDACTED in message
    assert_no_link(message, UPN)


def _redacted_token_by_token(text: str) -> str:
    """`logsafe.redact` without its shortcut for text with nothing to redact."""
    text = logsafe._LONG_RUN.sub(logsafe.REDACTED, text)
    return logsafe._TOKEN.sub(
        lambda m: logsafe.REDACTED if logsafe._is_link_like(m.group()) else m.group(), text
    )


_LOG_TEXT = st.lists(
    st.sampled_from([*"upnUPN=%23DdEe.clickCLICKdiscordcom/ _-x\t\n", "%3D", "%2E", "upn="]),
    max_size=40,
).map("".join)


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    st.lists(
        st.one_of(_LOG_TEXT, st.sampled_from([*LINK_SPELLINGS.values(), "a" * 120])), max_size=4
    )
)
def test_the_shortcut_for_clean_text_redacts_exactly_as_token_by_token(parts):
    text = " ".join(parts)
    assert logsafe.redact(text) == _redacted_token_by_token(text)


def test_the_filter_leaves_ordinary_records_alone():
    entry = record("GET /api/data/%s/about 200 1.2ms", PACKAGE_ID)
    logsafe.RedactLinks().filter(entry)
    assert entry.msg == "GET /api/data/%s/about 200 1.2ms" and entry.args == (PACKAGE_ID,)


def test_the_filter_redacts_exception_text():
    try:
        raise ValueError(f"could not open {LINK}")
    except ValueError:
        entry = record("failed", exc_info=sys.exc_info())
    logsafe.RedactLinks().filter(entry)
    assert "ValueError" in entry.exc_text and logsafe.REDACTED in entry.exc_text
    assert_no_link(logging.Formatter().format(entry), UPN)


def test_the_filter_survives_a_broken_format_string():
    entry = record("%s %s", "only one")
    assert logsafe.RedactLinks().filter(entry) is True


class ListHandler(logging.Handler):
    """Keeps the messages it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def handlers():
    """A handler on the root logger, on each of gunicorn's and on Celery's task logger."""
    names = ("", "gunicorn.error", "gunicorn.access", "celery.task")
    added = {name: ListHandler() for name in names}
    for name, handler in added.items():
        logging.getLogger(name).addHandler(handler)
    yield added
    for name, handler in added.items():
        logging.getLogger(name).removeHandler(handler)


def has_filter(handler: logging.Handler) -> bool:
    return sum(isinstance(f, logsafe.RedactLinks) for f in handler.filters) == 1


def test_install_puts_the_filter_on_every_handler_once(handlers):
    logsafe.install()
    logsafe.install()
    assert all(has_filter(h) for h in handlers.values())


def test_the_filter_catches_records_propagated_from_any_logger(handlers):
    logsafe.install()
    logging.getLogger("some.library").error("fetching %s", LINK)
    logging.getLogger("gunicorn.error").error("Invalid request line %r", LINK)
    seen = handlers[""].messages + handlers["gunicorn.error"].messages
    assert len(seen) >= 2 and all(logsafe.REDACTED in m and UPN[:40] not in m for m in seen)


def test_the_app_factory_installs_the_filter(handlers, app):
    assert all(has_filter(h) for h in handlers.values())


def test_the_gunicorn_hooks_install_the_filter(handlers):
    gunicorn_conf.post_worker_init(None)
    assert all(has_filter(h) for h in handlers.values())


@pytest.fixture
def own_logging():
    """A process's logging configuration applied in this test only."""
    with restored_logging():
        yield


def other_handlers_have_the_filter(handlers) -> bool:
    """The fixture's handlers off the root logger (a configuration replaces the root's)."""
    return all(has_filter(h) for name, h in handlers.items() if name)


def root_handlers_have_the_filter() -> bool:
    root = logging.getLogger()
    return bool(root.handlers) and all(has_filter(h) for h in root.handlers)


def test_celerys_logging_set_up_installs_the_filter(handlers, own_logging):
    from celery.signals import setup_logging

    import tasks.celery_app  # noqa: F401  (connects the receivers)

    late = logging.StreamHandler()
    logging.getLogger("celery").addHandler(late)  # one a library added before the set-up
    try:
        setup_logging.send(sender=None, loglevel=logging.INFO, logfile=None, format="", colorize=0)
        assert root_handlers_have_the_filter() and other_handlers_have_the_filter(handlers)
        assert has_filter(late)
    finally:
        logging.getLogger("celery").removeHandler(late)


def test_the_flower_launcher_installs_the_filter_after_flowers_logging(
    handlers, monkeypatch, own_logging
):
    from flower import command

    from launchers import flower

    monkeypatch.setattr(command, "setup_logging", lambda: None)
    flower.configure_flower_logging(Settings())
    flower.configure_flower_logging(Settings())  # wrapped once only
    late = logging.StreamHandler()
    logging.getLogger("tornado.application").addHandler(late)  # as Tornado's own setup would
    try:
        command.setup_logging()
        assert has_filter(late) and root_handlers_have_the_filter()
        assert other_handlers_have_the_filter(handlers)
    finally:
        logging.getLogger("tornado.application").removeHandler(late)
