"""Pseudonymous identifiers: how the pipeline names an account in its keys, ids and texts.

An account number identifies a patient's visit, so it must not travel in a Kafka key, a header,
a process id, a work item's reason or an API URL. Wherever the pipeline needs to name an account
it uses `IdKey.account_ref(account_number)`: HMAC-SHA256 under a secret key, the first 20 hex
digits (80 bits: no collision in practice, and no way back without the key, which a plain hash
of a 14-character account number would give by enumeration). The same key gives the same refs,
so ids survive restarts and `s2c replay` matches the live pipeline; a different key gives
unrelated refs. The key is data, passed in by the adapter (`S2C_ID_KEY`), never read here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

REF_HEX_DIGITS = 20
MIN_KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class IdKey:
    """The secret of the account pseudonyms (never shown by repr)."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise ValueError(f"the id key must be at least {MIN_KEY_BYTES} bytes")

    def account_ref(self, account_number: str) -> str:
        """The account's pseudonym: the LINK stage's key and the tail of a walk-in's id."""
        return self.pseudonym("account", account_number)

    def pseudonym(self, kind: str, source_id: str) -> str:
        """The pseudonym of a source id that may carry the account number (an encounter id, an
        837 claim id, an 835 remittance id): HMAC under the key, domain-separated by `kind`
        (`pseudonym("account", n) == account_ref(n)`)."""
        digest = hmac.digest(self.secret, f"{kind}|{source_id}".encode(), "sha256")
        return digest.hex()[:REF_HEX_DIGITS]

    def encounter_process_id(self, account_number: str) -> str:
        """The process id of a walk-in or emergency encounter (no appointment, no case)."""
        return f"ENC-{self.account_ref(account_number)}"
