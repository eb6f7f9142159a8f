"""The Dumpus client's side of the API, for integration and fault tests."""

import time

import requests

from storage.crypto import package_id_for

PROCESS_TIMEOUT_SECONDS = 180


class Client:
    """The Dumpus client's side of the API, for tests."""

    def __init__(self, api_url: str):
        self.api = api_url

    def submit(self, link: str) -> requests.Response:
        return requests.post(f"{self.api}/api/process", json={"package_link": link}, timeout=30)

    def get(self, path: str, upn: str, **params) -> requests.Response:
        headers = {"Authorization": f"Bearer {upn}"}
        return requests.get(f"{self.api}{path}", headers=headers, params=params, timeout=30)

    def delete(self, path: str, upn: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {upn}"}
        return requests.delete(f"{self.api}{path}", headers=headers, timeout=30)

    def wait_processed(self, package_id: str, upn: str) -> dict:
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status = self.get(f"/api/process/{package_id}/status", upn).json()
            if status["isDataAvailable"] or status["isErrored"]:
                return status
            time.sleep(0.2)
        raise AssertionError(f"package {package_id} not processed in time: {status}")

    @staticmethod
    def package_id(link: str, server_secret: str) -> str:
        """The package id of an allow-listed link (an HMAC of the link: storage.crypto)."""
        return package_id_for(link, server_secret.encode())
