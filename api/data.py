"""Data routes: one indexed read and one decryption per request, never a computation.

Each handler checks ownership (the bearer UPN), then reads the package's state and its view in
one statement (`statistics.get_current`), requires it PROCESSED and opens the view sealed under
the package key derived from that UPN. A blob that does not open (wrong key, tampering) is a 401,
never a 500. A route answering a whole view sends the JSON text that was sealed (authenticated by
AES-GCM, so it is the worker's own orjson output) without parsing and re-encoding it. Every data
route shares the client's read budget (`RATE_LIMIT_READ`): over it, 429 RATE_LIMITED with
`Retry-After`.
"""

from __future__ import annotations

import orjson
from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from api.auth import BEARER_SECURITY, require_owner
from api.errors import ApiError, unauthorized, unknown_package
from api.jsonio import json_response, json_text_response
from api.schemas import (
    AboutView,
    ChannelPath,
    DmPath,
    EntityPeriodView,
    ErrorResponse,
    GuildPath,
    OverviewView,
    PackagePath,
    PeriodPath,
    RateLimitedResponse,
    StatsView,
    TopPage,
    TopPath,
    TopQuery,
    UserPath,
    UserView,
)
from api.series import served_period
from api.services import Services, services
from storage.base import Status, Store
from storage.crypto import DecryptionError, PackageKey

PREFIX = "/api/data/<package_id>"

bp = APIBlueprint(
    "data",
    __name__,
    abp_tags=[Tag(name="data", description="Statistics of a processed package")],
    abp_security=BEARER_SECURITY,
    abp_responses={
        400: ErrorResponse,
        401: ErrorResponse,
        404: ErrorResponse,
        409: ErrorResponse,
        429: RateLimitedResponse,
    },
)


class PackageViews:
    """The views of one owned, processed package, read with its key."""

    def __init__(
        self,
        store: Store,
        package_id: str,
        generation: int,
        key: PackageKey,
        first: tuple[str, bytes | None],
    ) -> None:
        self.store = store
        self.package_id = package_id
        self.generation = generation
        self.key = key
        self._first = first  # (view name, blob) read together with the package's state

    def _blob(self, view_name: str) -> bytes | None:
        if view_name == self._first[0]:
            return self._first[1]
        view_id = self.key.view_id(view_name)
        return self.store.statistics.get(self.package_id, self.generation, view_id)

    def read_json(self, view_name: str) -> bytes | None:
        """One view decrypted to its JSON text, or None when the package has no such view."""
        blob = self._blob(view_name)
        if blob is None:
            return None
        try:
            return self.key.open_json(view_name, blob)
        except DecryptionError:
            raise unauthorized() from None

    def read(self, view_name: str) -> dict | None:
        """One view, decrypted and parsed, or None when the package has no such view."""
        text = self.read_json(view_name)
        return None if text is None else orjson.loads(text)

    def require_json(self, view_name: str, code: str = "UNKNOWN_VIEW", what: str = "view") -> bytes:
        """One view's JSON text, or a 404 with `code`."""
        text = self.read_json(view_name)
        if text is None:
            raise ApiError(404, code, f"no such {what} in this package")
        return text

    def require(self, view_name: str, code: str = "UNKNOWN_VIEW", what: str = "view") -> dict:
        """One view, parsed, or a 404 with `code`."""
        return orjson.loads(self.require_json(view_name, code, what))


def _not_processed(status: Status, error_code: str | None) -> ApiError:
    errored = status == Status.ERRORED
    return ApiError(
        409,
        "NOT_PROCESSED",
        "the package has failed" if errored else "the package is not processed yet",
        processingStep=None if errored else status.value,
        errorMessageCode=error_code if errored else None,
    )


def open_package(package_id: str, view_name: str) -> PackageViews:
    """Ownership first (401), then existence (404), then status (409).

    The package's state and its view `view_name` come from one read (`get_current`), so the key
    is needed first; it is only ever derived from the UPN of the package's owner (and kept in
    this process's memory, `storage.key_cache`, so a read derives none).
    """
    return owned_package(services(), package_id, require_owner(package_id), view_name)


def owned_package(found: Services, package_id: str, upn: str, view_name: str) -> PackageViews:
    """The views of a package whose ownership by `upn` was checked: 404, 409 or its views,
    `view_name` read together with its state (`api.read_path` calls it without Flask)."""
    key = found.package_keys.get(package_id, upn, found.server_secret())
    store = found.store()
    current = store.statistics.get_current(package_id, key.view_id(view_name))
    if current is None:
        raise unknown_package()
    status, error_code, generation, blob = current
    if status != Status.PROCESSED:
        raise _not_processed(status, error_code)
    return PackageViews(store, package_id, generation, key, (view_name, blob))


def narrow_to_period(document: dict, period: str) -> dict:
    """An entity view without `periods`, with `period` and that period's figures (zero-filled)."""
    narrowed = {k: v for k, v in document.items() if k != "periods"}
    narrowed["period"] = period
    narrowed.update((document.get("periods") or {}).get(period) or {})
    return served_period(narrowed)


@bp.get(f"{PREFIX}/about", responses={200: AboutView})
def about(path: PackagePath) -> Response:
    """What the package is and what was read.

    Request: `GET /api/data/<package_id>/about` with `Authorization: Bearer <UPN>`.
    200 the `about` view (`package_id`, `owner`, `package_date`, `layout`, `folder_language`,
    `is_partial`, `missing_sections`, `activity_sources`, `read`, `processing_seconds`).
    401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID, 409 NOT_PROCESSED (`processingStep`).
    """
    return json_text_response(open_package(path.package_id, "about").require_json("about"))


@bp.get(f"{PREFIX}/overview", responses={200: OverviewView})
def overview(path: PackagePath) -> Response:
    """Lifetime headline figures and the top 3 of each list.

    Request: `GET /api/data/<package_id>/overview` with `Authorization: Bearer <UPN>`.
    200 the `overview` view (`messages`, `active_days`, `voice_minutes`, `top`, ...).
    401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID, 409 NOT_PROCESSED.
    """
    return json_text_response(open_package(path.package_id, "overview").require_json("overview"))


@bp.get(f"{PREFIX}/stats/<period>", responses={200: StatsView})
def period_stats(path: PeriodPath) -> Response:
    """The figures of one period.

    Request: `GET /api/data/<package_id>/stats/l4w` (period `l4w`, `l1m`, `ly` or `lifetime`).
    200 the `stats:<period>` view (`start`, `end`, `days`, `messages`, `voice`, `reactions`,
    `sessions`, `app_opens`, `events`, ...). 400 INVALID_PERIOD, 401 UNAUTHORIZED,
    404 UNKNOWN_PACKAGE_ID, 409 NOT_PROCESSED.
    """
    view = f"stats:{path.period}"
    return json_text_response(open_package(path.package_id, view).require_json(view))


@bp.get(f"{PREFIX}/top/<type>/<period>", responses={200: TopPage})
def top_list(path: TopPath, query: TopQuery) -> Response:
    """One page of a ranked list of DMs, servers or channels.

    Request: `GET /api/data/<package_id>/top/dms/ly?limit=10&offset=0` (type `dms`, `guilds`
    or `channels`; `limit` 1-100, default 10; `offset` 0-1e9, default 0).
    200 `{"type": "dms", "period": "ly", "total": 41, "limit": 10, "offset": 0, "entries": [...]}`.
    400 INVALID_TYPE, INVALID_PERIOD or INVALID_REQUEST (limit/offset), 401 UNAUTHORIZED,
    404 UNKNOWN_PACKAGE_ID, 409 NOT_PROCESSED.
    """
    view = f"top:{path.type}:{path.period}"
    entries = open_package(path.package_id, view).require(view).get("entries") or []
    page = entries[query.offset : query.offset + query.limit]
    return json_response(
        {
            "type": path.type,
            "period": path.period,
            "total": len(entries),
            "limit": query.limit,
            "offset": query.offset,
            "entries": page,
        }
    )


@bp.get(f"{PREFIX}/guild/<guild_id>/stats/<period>", responses={200: EntityPeriodView})
def guild_stats(path: GuildPath) -> Response:
    """One server's figures for one period.

    Request: `GET /api/data/<package_id>/guild/<guild_id>/stats/lifetime` (`guild_id` a
    snowflake or `unknown` for channels of left servers).
    200 `{"guild_id", "name", "channels", "period", "start", "end", "days", "messages", "voice"}`.
    400 INVALID_PERIOD, 401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID or UNKNOWN_GUILD,
    409 NOT_PROCESSED.
    """
    view = f"guild:{path.guild_id}"
    document = open_package(path.package_id, view).require(view, "UNKNOWN_GUILD", "server")
    return json_response(narrow_to_period(document, path.period))


@bp.get(f"{PREFIX}/dm/<user_id>/stats/<period>", responses={200: EntityPeriodView})
def dm_stats(path: DmPath) -> Response:
    """One person's DM figures for one period, by user id or by DM channel id.

    Request: `GET /api/data/<package_id>/dm/<user_id or dm channel id>/stats/l1m`.
    200 `{"user_id", "username", "display_name", "avatar_url", "channel_ids", "period",
    "start", "end", "days", "messages", "voice"}`. 400 INVALID_PERIOD, 401 UNAUTHORIZED,
    404 UNKNOWN_PACKAGE_ID or UNKNOWN_DM, 409 NOT_PROCESSED.
    """
    views = open_package(path.package_id, f"dm:{path.user_id}")
    document = views.read(f"dm:{path.user_id}")
    if document is None:
        channel = views.read(f"dm_channel:{path.user_id}")
        user_id = (channel or {}).get("user_id")
        document = views.read(f"dm:{user_id}") if user_id else None
    if document is None:
        raise ApiError(404, "UNKNOWN_DM", "no such DM person in this package")
    return json_response(narrow_to_period(document, path.period))


@bp.get(f"{PREFIX}/channel/<channel_id>/stats/<period>", responses={200: EntityPeriodView})
def channel_stats(path: ChannelPath) -> Response:
    """One channel's figures for one period.

    Request: `GET /api/data/<package_id>/channel/<channel_id>/stats/ly`.
    200 `{"channel_id", "name", "kind", "guild_id", "guild_name", "period", "start", "end",
    "days", "messages", "voice"}`. 400 INVALID_PERIOD, 401 UNAUTHORIZED,
    404 UNKNOWN_PACKAGE_ID or UNKNOWN_CHANNEL, 409 NOT_PROCESSED.
    """
    view = f"channel:{path.channel_id}"
    document = open_package(path.package_id, view).require(view, "UNKNOWN_CHANNEL", "channel")
    return json_response(narrow_to_period(document, path.period))


@bp.get(f"{PREFIX}/user/<user_id>", responses={200: UserView})
def user_profile(path: UserPath) -> Response:
    """A profile: the package owner or a user of their relationships.

    Request: `GET /api/data/<package_id>/user/<user_id>`.
    200 `{"id", "username", "display_name", "avatar_url", "relationship"}` (`OWNER`, `FRIEND`,
    `BLOCKED`, `PENDING_INCOMING`, `PENDING_OUTGOING`, `IMPLICIT`). 401 UNAUTHORIZED,
    404 UNKNOWN_PACKAGE_ID or UNKNOWN_USER, 409 NOT_PROCESSED.
    """
    view = f"user:{path.user_id}"
    views = open_package(path.package_id, view)
    return json_text_response(views.require_json(view, "UNKNOWN_USER", "user"))
