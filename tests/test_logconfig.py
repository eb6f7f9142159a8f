"""`logconfig`: LOG_LEVEL and LOG_FORMAT (validated, one line on a bad value), the text and JSON
formats, the ids carried by records, and the dictConfig form gunicorn applies."""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys

import pytest

import logconfig
import logsafe
from settings import InvalidSettings, Settings
from tests.support.logging_state import restored_logging

ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
LINK = "https://click.discord.com/ls/click?upn=" + "AbC.def_0123456789-xyZ" * 30


def test_the_settings_read_the_variables():
    settings = Settings.from_env({"LOG_LEVEL": " debug ", "LOG_FORMAT": "JSON"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert (Settings.from_env({}).log_level, Settings.from_env({}).log_format) == ("INFO", "text")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOG_LEVEL": "LOUD"}, r"^invalid LOG_LEVEL='LOUD': .*'DEBUG', 'INFO', 'WARNING'"),
        ({"LOG_LEVEL": "NOTSET"}, r"^invalid LOG_LEVEL='NOTSET': "),
        ({"LOG_FORMAT": "xml"}, r"^invalid LOG_FORMAT='xml': .*'text' or 'json'"),
    ],
)
def test_a_bad_value_is_one_clear_line(env, message):
    with pytest.raises(InvalidSettings, match=message) as refused:
        Settings.from_env(env)
    assert "\n" not in str(refused.value)


def make_record(message: str = "hello %s", *args, exc_info=None, **attributes) -> logging.LogRecord:
    record = logging.LogRecord(
        "some.logger", logging.WARNING, __file__, 1, message, args or ("x",), exc_info
    )
    record.__dict__.update(attributes)
    return record


def test_a_json_line_has_time_level_logger_message_and_the_known_ids():
    record = make_record(request_id="r-1", package_id=None)
    line = json.loads(logconfig.JsonFormatter().format(record))
    assert set(line) == {"time", "level", "logger", "message", "request_id"}
    assert re.fullmatch(ISO_UTC, line["time"])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "some.logger", "hello x")


def test_a_json_line_keeps_a_traceback_on_one_line():
    try:
        raise ValueError("broken")
    except ValueError:
        record = make_record(exc_info=sys.exc_info())
    text = logconfig.JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: broken" in json.loads(text)["exception"]


def test_the_time_is_utc():
    record = make_record()
    record.created, record.msecs = 0.25, 250.0
    assert logconfig.utc_time(record) == "1970-01-01T00:00:00.250Z"


def test_a_text_line_shows_the_known_ids_before_the_message():
    line = logconfig.TextFormatter().format(make_record(request_id=None, package_id="p" * 32))
    assert re.fullmatch(ISO_UTC + rf" WARNING some.logger \[package_id={'p' * 32}\]: hello x", line)
    plain = logconfig.TextFormatter().format(make_record())
    assert re.fullmatch(ISO_UTC + " WARNING some.logger: hello x", plain)


@pytest.fixture
def own_logging():
    with restored_logging():
        yield


def test_records_carry_the_ids_of_the_context_they_were_made_in(own_logging):
    logconfig.install_context()
    logconfig.install_context()  # once only
    token = logconfig.package_id.set("f" * 32)
    try:
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "m", (), None)
    finally:
        logconfig.package_id.reset(token)
    assert (record.package_id, record.request_id) == ("f" * 32, None)
    later = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert later.package_id is None


def test_configure_writes_json_at_the_level_through_logsafe(own_logging, capsys):
    logconfig.configure(Settings(log_level="WARNING", log_format="json"))
    logging.getLogger("some.library").info("dropped")
    logging.getLogger("some.library").warning("fetching %s", LINK)
    (line,) = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert logsafe.REDACTED in line["message"] and "upn=" not in line["message"]
    assert (line["level"], line["logger"]) == ("WARNING", "some.library")


def test_the_dict_config_is_the_same_configuration(own_logging, capsys):
    settings = Settings(log_level="DEBUG", log_format="json")
    logging.config.dictConfig(logconfig.dict_config(settings))
    root = logging.getLogger()
    (handler,) = root.handlers
    assert root.level == logging.DEBUG
    assert isinstance(handler.formatter, logconfig.JsonFormatter)
    assert any(isinstance(f, logsafe.RedactLinks) for f in handler.filters)
    logging.getLogger("gunicorn.error").debug("Booting worker")
    assert json.loads(capsys.readouterr().err)["logger"] == "gunicorn.error"


def test_an_app_outside_gunicorn_gets_the_configuration_once(own_logging):
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logconfig.configure_unless_configured(Settings(log_format="json"))
    (ours,) = root.handlers
    logconfig.configure_unless_configured(Settings())
    assert root.handlers == [ours] and isinstance(ours.formatter, logconfig.JsonFormatter)
