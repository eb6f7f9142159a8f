"""Page-numbered listings: `page` (from 1) and `per_page` in, `X-Total`, `X-Total-Pages`,
`X-Page`, `X-Per-Page`, `X-Next-Page` and `X-Prev-Page` headers out (the last two empty at the
ends)."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_PER_PAGE = 100


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1")
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE, description="Items per page, 1 to 100")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_headers(query: PageQuery, total: int) -> dict[str, str]:
    """The pagination headers of one page of a listing of `total` items."""
    pages = max(1, -(-total // query.per_page))
    return {
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Page": str(query.page),
        "X-Per-Page": str(query.per_page),
        "X-Next-Page": str(query.page + 1) if query.page < pages else "",
        "X-Prev-Page": str(query.page - 1) if 1 < query.page <= pages + 1 else "",
    }
