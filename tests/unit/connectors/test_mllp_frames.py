"""MLLP framing without sockets: however the bytes arrive, the same blocks come out, and a
message over the limit is reported with its size instead of being kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import message

from s2c.streams.connectors.mllp_frames import (
    END,
    START,
    Block,
    FramingError,
    MllpFramer,
    Oversized,
)

BOOKING = message("hl7v2/SIU-S12-booking.hl7")
DISCHARGE = message("hl7v2/ADT-A03-discharge.hl7")
CANCELLATION = message("hl7v2/SIU-S15-cancellation.hl7")


def framed(*messages: bytes) -> bytes:
    return b"".join(START + m + END for m in messages)


def frames_of(stream: bytes, cuts: list[int], max_bytes: int) -> list[Block | Oversized]:
    framer, frames, start = MllpFramer(max_bytes), [], 0
    for cut in sorted(cuts) + [len(stream)]:
        frames.extend(framer.feed(stream[start:cut]))
        start = cut
    return frames


@given(st.lists(st.integers(min_value=0, max_value=len(framed(BOOKING, DISCHARGE)))))
def test_blocks_are_the_same_however_the_stream_is_cut(cuts):
    stream = framed(BOOKING, DISCHARGE) + b"\r\n" + framed(CANCELLATION)
    assert frames_of(stream, cuts, 1 << 20) == [
        Block(BOOKING),
        Block(DISCHARGE),
        Block(CANCELLATION),
    ]


@given(st.lists(st.integers(min_value=0, max_value=len(BOOKING) + len(DISCHARGE) + 4)))
def test_an_oversized_message_is_counted_not_kept_and_the_next_one_still_arrives(cuts):
    limit = len(DISCHARGE)  # the booking is longer
    assert len(BOOKING) > limit
    frames = frames_of(framed(BOOKING, DISCHARGE), cuts, limit)
    msh = BOOKING.split(b"\n")[0]
    assert frames == [Oversized(len(BOOKING), msh), Block(DISCHARGE)]


def test_the_framer_holds_at_most_the_limit_plus_one_read():
    framer = MllpFramer(1000)
    list(framer.feed(START))
    for _ in range(100):
        assert list(framer.feed(b"NTE|1||" + b"x" * 993)) == []
        assert framer.held <= 1000 + 1000
    (frame,) = framer.feed(END)
    assert frame == Oversized(100_000, b"")  # no segment end within the first 4 KiB


def test_bytes_outside_a_block_end_the_session_after_the_blocks_before_them():
    framer = MllpFramer(1 << 20)
    frames = framer.feed(framed(BOOKING) + b"GET / HTTP/1.1\r\n")
    assert next(frames) == Block(BOOKING)
    with pytest.raises(FramingError, match="outside an MLLP block"):
        next(frames)


def test_an_oversized_message_without_a_segment_end_has_no_head_to_echo():
    framer = MllpFramer(20)
    stream = framed(b"MSH|^~\\&|ORSCHED|RGH|S2C", b"MSH|^~\\&|ORSCHED")
    assert list(framer.feed(stream)) == [Oversized(24, b""), Block(b"MSH|^~\\&|ORSCHED")]
