"""The administration pages' own reads and writes of the registry (the rest is in
permits.registry and sms_gateway.admin, shared with the CLI)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, exists, select

from permits.registry import RegistryError
from storage.tables.ledger import districts, officers, permits, residents


def resident(conn: Connection, resident_id: int) -> dict | None:
    row = conn.execute(
        select(residents.c.id, residents.c.phone, residents.c.name, residents.c.document,
               residents.c.district_id, districts.c.name.label("district_name"),
               districts.c.regime.label("district_regime"), residents.c.created_at,
               residents.c.until, residents.c.self_registered)
        .join(districts, districts.c.id == residents.c.district_id)
        .where(residents.c.id == resident_id)).mappings().first()
    return dict(row) if row else None


def resident_id_by_phone(conn: Connection, phone: str) -> int | None:
    return conn.scalar(select(residents.c.id).where(residents.c.phone == phone))


class HoldsPermits(RegistryError):
    """The resident holds permits in the ledger, which keeps whose each permit was."""


def remove_resident(conn: Connection, resident_id: int) -> None:
    """Only a resident without permits: the ledger keeps every permit and whose it was."""
    if conn.scalar(select(exists().where(permits.c.resident_id == resident_id))):
        raise HoldsPermits("this resident holds permits in the ledger and cannot be removed")
    if conn.execute(delete(residents).where(residents.c.id == resident_id)).rowcount != 1:
        raise RegistryError("no such resident")


def officers_list(conn: Connection) -> list[dict]:
    rows = conn.execute(select(officers.c.id, officers.c.phone, officers.c.name,
                               officers.c.active).order_by(officers.c.name)).mappings()
    return [dict(r) for r in rows]


def officer(conn: Connection, officer_id: int) -> dict | None:
    row = conn.execute(select(officers.c.id, officers.c.phone, officers.c.name, officers.c.active)
                       .where(officers.c.id == officer_id)).mappings().first()
    return dict(row) if row else None


def officer_phone(conn: Connection, officer_id: int) -> str | None:
    return conn.scalar(select(officers.c.phone).where(officers.c.id == officer_id))


def districts_list(conn: Connection) -> list[dict]:
    rows = conn.execute(select(districts).order_by(districts.c.name)).mappings()
    return [dict(r) for r in rows]


def district(conn: Connection, district_id: str) -> dict | None:
    row = conn.execute(select(districts).where(districts.c.id == district_id)).mappings().first()
    return dict(row) if row else None
