"""Views compressed in the run's idle activity process, and by the run itself when it fails."""

from __future__ import annotations

import logging
import os
import signal

import pytest

import tasks.sealing as sealing
from parsers.activity.child import ChildFailed
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from storage.crypto import VIEW_COMPRESSION, PackageKey, package_id_for
from tasks.sealing import sealed_views
from tests.parsers.test_parsers_activity_fast import big_package

UPN = "u" * 600
KEY = PackageKey(package_id_for(UPN), UPN, b"secret")
# Three documents of about 100 KB fill a batch of 256 KiB (set below): a dozen make four.
DOCS = [(f"channel:{n}", {"n": n, "text": "é" * 50_000}) for n in range(12)]


@pytest.fixture(autouse=True)
def batches_of_256_kib(monkeypatch):
    monkeypatch.setattr(sealing, "BATCH_BYTES", 256 * 1024)


def opened(sealed) -> dict:
    """{view id: document} of (view id, blob) pairs, opened with the view name their id names."""
    by_id = {KEY.view_id(name): name for name, _ in DOCS}
    return {view_id: KEY.open(by_id[view_id], blob) for view_id, blob in sealed}


EXPECTED = {KEY.view_id(name): document for name, document in DOCS}


@pytest.fixture
def kept_helper(tmp_path):
    analysis = analyze_package(
        big_package(tmp_path, 50),
        package_id="x",
        limits=ParseLimits(activity_process_min_bytes=0),
        keep_helper=True,
    )
    assert analysis.helper is not None
    yield analysis.helper
    analysis.close()


def test_the_helper_compresses_every_view_and_this_process_none(kept_helper, sealed_here):
    sealed = list(sealed_views(KEY, iter(DOCS), kept_helper))
    assert len(sealed) == len(DOCS) and opened(sealed) == EXPECTED
    assert sealed_here == []


def test_without_a_helper_this_process_compresses_them(sealed_here):
    assert opened(sealed_views(KEY, iter(DOCS))) == EXPECTED
    assert sorted(sealed_here) == sorted(name for name, _ in DOCS)


def test_a_helper_killed_midway_leaves_the_rest_to_this_process(kept_helper, sealed_here, caplog):
    views = sealed_views(KEY, iter(DOCS), kept_helper)
    first = next(views)  # the first batch came back from the helper
    assert sealed_here == []
    os.kill(kept_helper._process.pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="tasks.sealing"):
        sealed = [first, *views]
    assert opened(sealed) == EXPECTED and len(sealed) == len(DOCS)
    assert sealed_here, "the batches after the kill were compressed here"
    assert "does it itself" in caplog.text


class ScriptedHelper:
    """A helper whose lend, send and receive fail or answer as told."""

    def __init__(self, fail_lend=False, fail_send_at=None, answers=None) -> None:
        self.fail_lend, self.fail_send_at, self.answers = fail_lend, fail_send_at, answers
        self.sent: list = []
        self.lent = None

    def lend(self, job) -> None:
        self.lent = job
        if self.fail_lend:
            raise ChildFailed("gone")

    def send(self, batch) -> None:
        if self.fail_send_at == len(self.sent):
            raise ChildFailed("gone")
        self.sent.append(batch)

    def receive(self):
        texts = self.sent[-1]
        return self.answers(texts) if self.answers else compressed(texts)


def compressed(texts: list[bytes]) -> list[bytes]:
    compress, level = VIEW_COMPRESSION
    return [compress(text, level) for text in texts]


@pytest.mark.parametrize(
    "helper",
    [
        ScriptedHelper(fail_lend=True),
        ScriptedHelper(fail_send_at=0),
        ScriptedHelper(fail_send_at=2),
        ScriptedHelper(answers=lambda texts: compressed(texts)[1:]),  # one short
        ScriptedHelper(answers=lambda texts: None),
    ],
    ids=["lend fails", "first send fails", "third send fails", "answer short", "no list"],
)
def test_every_failure_of_a_helper_leaves_no_view_unsealed_or_sealed_twice(helper, sealed_here):
    sealed = list(sealed_views(KEY, iter(DOCS), helper))
    assert len(sealed) == len(DOCS) and opened(sealed) == EXPECTED
    assert sealed_here, "what the helper could not do was done here"


def test_only_one_batch_is_in_the_helper_at_a_time():
    helper = ScriptedHelper()
    taken: list[int] = []
    receive = helper.receive
    helper.receive = lambda: taken.append(len(helper.sent)) or receive()
    list(sealed_views(KEY, iter(DOCS), helper))
    # each batch is taken back before the next one is sent
    assert taken == list(range(1, len(helper.sent) + 1)) and len(helper.sent) >= 3


WHOLE = [(name, {"view": name}) for name in ("about", "overview", "stats:lifetime", "stats:ly")]


def test_the_views_sealed_without_compression_never_go_to_the_helper(sealed_here):
    helper = ScriptedHelper()
    named = [*DOCS[:2], WHOLE[0], WHOLE[1], *DOCS[2:], *WHOLE[2:]]
    sealed = dict(sealed_views(KEY, iter(named), helper))
    assert sealed_here == [name for name, _ in WHOLE]
    assert sum(len(batch) for batch in helper.sent) == len(DOCS)
    assert {KEY.view_id(name) for name, _ in named} == set(sealed)
    for name, document in named:
        assert KEY.open(name, sealed[KEY.view_id(name)]) == document
