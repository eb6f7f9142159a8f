"""Whenever a package ends, its link keys are destroyed: one wrapper around any package repository.

Every way a package ends (processed, failed by its worker, the API or the reaper, deleted or
expired) goes through `publish`, `fail`, `fail_stale`, `delete` or `delete_expired`, so wrapping
those here, rather than in each caller, is what makes "the link is unrecoverable once the
package has ended" hold by construction. The key is destroyed after the state change: destroyed
first, a change that then fails (a lost claim, say) would leave a live package with no link. A
process dying between the two leaves a key that `LinkVault.sweep` removes. A deleted package's
upload digest (`storage.upload_digests`) is forgotten with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.link_vault import LinkVault


class ShreddingPackages:
    """A package repository whose end-of-package changes also shred the package's link keys."""

    def __init__(
        self,
        packages: Any,
        vault: LinkVault,
        compact: Callable[[], None],
        forget_upload: Callable[[str], None] | None = None,
    ):
        self._packages = packages
        self._vault = vault
        self._compact = compact
        self._forget_upload = forget_upload  # a deleted package's upload digest goes with it

    def __getattr__(self, name: str) -> Any:
        return getattr(self._packages, name)

    def _ended(self, package_id: str, changed: bool) -> bool:
        if changed:
            self._vault.shred(package_id)
            self._compact()
        return changed

    def publish(self, package_id: str, token: str, generation: int, now: float) -> bool:
        """PROCESSED (see `PackageRepository.publish`), then the link keys shredded."""
        return self._ended(package_id, self._packages.publish(package_id, token, generation, now))

    def fail(self, package_id: str, token: str | None, code: str, now: float) -> bool:
        """ERRORED (see `PackageRepository.fail`), then the link keys shredded."""
        return self._ended(package_id, self._packages.fail(package_id, token, code, now))

    def fail_stale(self, package_id: str, stale_before: float, code: str, now: float) -> bool:
        """ERRORED when stale (see `PackageRepository.fail_stale`), then the keys shredded."""
        changed = self._packages.fail_stale(package_id, stale_before, code, now)
        return self._ended(package_id, changed)

    def delete(self, package_id: str, now: float | None = None) -> bool:
        """The document removed, then the link keys shredded (even if it was already gone)."""
        deleted = self._packages.delete(package_id, now)
        self._vault.shred(package_id)
        self._forgotten(package_id)
        self._compact()
        return deleted

    def delete_expired(self, package_id: str, finished_before: float, now: float) -> bool:
        """Deleted when expired (see `PackageRepository.delete_expired`), then the keys shredded."""
        changed = self._packages.delete_expired(package_id, finished_before, now)
        if changed:
            self._forgotten(package_id)
        return self._ended(package_id, changed)

    def _forgotten(self, package_id: str) -> None:
        if self._forget_upload is not None:
            self._forget_upload(package_id)
