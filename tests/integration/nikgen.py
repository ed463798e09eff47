"""Well-formed NIKs for tests: region digits, DDMMYY birth date (women +40)
and a serial, so verify accepts them structurally."""

from __future__ import annotations

import datetime


def make(district: str, birth: datetime.date, female: bool, serial: int) -> str:
    """district is 'PPRRDD', e.g. '161201'."""
    day = birth.day + (40 if female else 0)
    return f"{district}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def person(i: int, district: str = "161201", occupation: str = "PETANI/PEKEBUN") -> dict:
    """The i-th distinct test person: a valid NIK, name, birth date, sex."""
    birth = datetime.date(1970 + i % 30, 1 + i % 12, 1 + i % 28)
    female = i % 2 == 1
    return {"nik": make(district, birth, female, 1 + i // 360),
            "name": f"Peserta {i}", "birth_date": birth.isoformat(),
            "sex": "F" if female else "M", "occupation": occupation}
