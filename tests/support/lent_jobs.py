"""Jobs lent to an activity process in tests (`ActivityProcess.lend`): the process imports this
module by name when it unpickles one."""

import os


class Doubler:
    """Answers each message with twice it, until the pipe closes."""

    def serve(self, receive, send) -> None:
        while True:
            send(receive() * 2)


class DiesAfter:
    """Answers `answers` messages, then the process dies without a word (exit status 3)."""

    def __init__(self, answers: int) -> None:
        self.answers = answers

    def serve(self, receive, send) -> None:
        for _ in range(self.answers):
            send(receive())
        receive()
        os._exit(3)


class Silent:
    """Takes every message and never answers."""

    def serve(self, receive, send) -> None:
        while True:
            receive()
