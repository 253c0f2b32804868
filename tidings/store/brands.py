"""Mirror the brands file into the ``brands`` table so rows can reference brands."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.config.brands import BrandsFile
from tidings.store.models import BrandRow


def sync_brands(*, session: Session, brands: BrandsFile) -> dict[str, BrandRow]:
    """Insert or update a row per brand in the file; return them by slug. Brands missing from
    the file are kept: emails and orders still point at them."""
    rows = {row.slug: row for row in session.scalars(select(BrandRow))}
    for brand in brands.brands:
        row = rows.get(brand.slug)
        if row is None:
            row = BrandRow(slug=brand.slug)
            session.add(row)
            rows[brand.slug] = row
        row.name = brand.name
        row.default_language = brand.default_language
        row.config = brand.model_dump(mode="json")
    session.flush()
    return rows


def brand_slug(session: Session, brand_id: int | None) -> str | None:
    """The slug of a ``brands`` row: rows reference a brand by id, the brands file by slug."""
    if brand_id is None:
        return None
    return session.scalar(select(BrandRow.slug).where(BrandRow.id == brand_id))
