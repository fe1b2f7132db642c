"""Which remittance adjustments are denials: by CAS group and Claim Adjustment Reason Code.

A denial is money the payer will not pay for a reason the provider can work (correct, appeal,
bill elsewhere): it goes to the denial reserve and opens a work item. A reduction is the contract
or the law doing what it says (CARC 45, fee schedule; 253, sequestration; 59, multiple-procedure
rules): it is a contractual or other adjustment and never a denial, whatever was paid. Patient
responsibility (group PR) is what the patient owes, never a denial either.

The class of an adjustment depends only on its group and CARC, never on the claim status or on a
line paid zero, so a reversal's negated adjustments (835 CLP02 = 22) fall in the same class as
the ones they undo and the ledger nets to the final adjudication. A CARC in neither list is
refused by name rather than guessed: booking a denial as a write-off, or a write-off as a
denial, both misstate the ledger.
"""

from __future__ import annotations

from enum import Enum

from s2c.streams.connectors.events import MappingError


class AdjustmentClass(str, Enum):
    DENIAL = "denial"
    ADJUSTMENT = "adjustment"


# Pricing, contract, law, coordination of benefits, payment timing: adjustments.
REDUCTIONS = frozenset(
    """
    1 2 3 23 24 42 44 45 59 61 66 69 70 74 75 76 85 87 89 90 91 94 100 101 102 103 104 105
    118 121 122 123 124 130 131 132 134 137 139 142 144 161 169 172 186 187 190 192 194 195
    201 209 223 225 232 235 237 241 245 246 247 248 253 260 262 266 271 281
    A2 A5 A7 B4 B10 W1
    """.split()
)
# Not covered, not payable as billed, missing information, eligibility, authorization, timely
# filing, duplicates, medical necessity, bundling edits: denials.
DENIALS = frozenset(
    """
    4 5 6 7 8 9 10 11 12 13 14 15 16 18 19 20 21 22 26 27 29 31 32 33 34 35 39 40 49 50 51 53
    54 55 56 58 60 96 97 107 108 109 110 111 112 114 115 116 117 119 125 128 129 135 136 138
    140 146 147 148 149 150 151 152 153 154 155 157 158 159 160 163 164 166 167 170 171 173 174
    175 176 177 178 179 180 181 182 183 184 185 188 189 193 197 198 199 200 202 203 204 206 207
    208 210 211 212 213 215 216 219 222 226 227 228 231 234 236 239 240 242 243 249 250 251 252
    254 256 257 258 270 272 273 274 275 276 277 278 279 280 282 283 284 285 286 287 288
    A1 A6 A8 B1 B5 B7 B8 B9 B11 B12 B13 B14 B15 B16 B20 B22 B23
    """.split()
)
PATIENT_RESPONSIBILITY = "PR"


def classify(group: str, carc: str, location: str) -> AdjustmentClass:
    """Denial or adjustment; `location` names the element holding the CARC in a rejection."""
    code = carc.strip().upper()
    if group == PATIENT_RESPONSIBILITY:
        return AdjustmentClass.ADJUSTMENT
    if code in DENIALS:
        return AdjustmentClass.DENIAL
    if code in REDUCTIONS:
        return AdjustmentClass.ADJUSTMENT
    raise MappingError(
        location,
        f"CARC {code or '(empty)'} is not classified as a denial or an adjustment "
        "(streams/connectors/carc.py)",
        code="103",
    )
