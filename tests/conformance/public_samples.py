"""Reads the public corpus for the conformance run (tests/conftest.py decides whether it runs)."""

from __future__ import annotations

from samples import PRODUCED_AT, samples_dir

FIXTURES = samples_dir()

__all__ = ["FIXTURES", "PRODUCED_AT", "reversed_and_denied", "sample"]


def sample(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def reversed_and_denied(remits: str) -> str:
    """The managed-care 835 turned into a reversal of its first claim (every amount negated, as
    payers send it) and a denial of its second (CO-50 not medically necessary, with the
    deductible and CO-45 lines as they were): both claims balance and the set ties out."""
    return (
        remits.replace("BPR*I*945.00", "BPR*I*-450.00")
        .replace(
            "CLP*5554555444*1*800.00*450.00*300.00", "CLP*5554555444*22*-800.00*-450.00*-300.00"
        )
        .replace("CAS*CO*A2*50.00", "CAS*CO*A2*-50.00")
        .replace("SVC*HC:99211*800.00*500.00", "SVC*HC:99211*-800.00*-500.00")
        .replace("CAS*PR*1*300.00", "CAS*PR*1*-300.00")
        .replace("CLP*8765432112*1*1200.00*495.00", "CLP*8765432112*4*1200.00*0.00")
        .replace("CAS*CO*A2*55.00", "CAS*CO*50*550.00")
    )
