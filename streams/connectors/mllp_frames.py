"""MLLP framing: bytes in, whole blocks (or "this block was too big") out. No I/O.

A block is 0x0b, the message, 0x1c 0x0d. python-hl7's reader closes the connection without a
word when a message passes its fixed 64 KiB buffer, and the sender resends it forever. This
framer keeps at most `max_bytes` of a message (plus one read); past that it only counts bytes
until the block ends, and reports `Oversized`, so the listener can NAK it and stay in frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

START, END = b"\x0b", b"\x1c\x0d"
BETWEEN_BLOCKS = b"\r\n \t"  # some senders put a line break after the end marker
HEAD_BYTES = 4096  # enough for an MSH segment, whose MSH-10 the NAK echoes


class FramingError(ValueError):
    """Bytes outside a block that are not whitespace: the peer does not speak MLLP."""


@dataclass(frozen=True)
class Block:
    message: bytes


@dataclass(frozen=True)
class Oversized:
    size: int  # bytes between the start and end markers
    head: bytes  # the first segment (MSH), when it ends within HEAD_BYTES; else b""


def first_segment(data: bytes) -> bytes:
    for end, char in enumerate(data[:HEAD_BYTES]):
        if char in b"\r\n":
            return data[:end]
    return b""


class MllpFramer:
    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("the MLLP message limit must be at least 1 byte")
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._in_block = False
        self._scanned = 0  # where the next search for END starts
        self._dropped = 0  # bytes of this block counted and let go (over the limit)
        self._head = b""

    @property
    def held(self) -> int:
        """Bytes kept for the block being read: at most the limit plus one read."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[Block | Oversized]:
        """The blocks `data` completes, in order, then FramingError if bytes outside a block
        follow them: the blocks before the junk are still answered. Consume it whole."""
        self._buffer += data
        while self._in_block or self._find_start():
            frame = self._find_end()
            if frame is None:
                return
            yield frame

    def _find_start(self) -> bool:
        start = self._buffer.find(START)
        junk = bytes(self._buffer if start < 0 else self._buffer[:start])
        if junk.strip(BETWEEN_BLOCKS):
            raise FramingError(f"{len(junk)} byte(s) outside an MLLP block")
        if start < 0:
            self._buffer.clear()
            return False
        del self._buffer[: start + 1]
        self._in_block, self._scanned = True, 0
        return True

    def _find_end(self) -> Block | Oversized | None:
        end = self._buffer.find(END, self._scanned)
        if end < 0:
            # keep the last byte: it may be the 0x1c of an end marker split across reads
            self._scanned = max(0, len(self._buffer) - 1)
            if self._dropped + len(self._buffer) - 1 > self.max_bytes:
                if not self._dropped:
                    self._head = first_segment(bytes(self._buffer[:HEAD_BYTES]))
                self._dropped += len(self._buffer) - 1
                del self._buffer[:-1]
                self._scanned = 0
            return None
        size = self._dropped + end
        frame: Block | Oversized
        if size > self.max_bytes:
            head = (
                self._head
                if self._dropped
                else first_segment(bytes(self._buffer[: min(end, HEAD_BYTES)]))
            )
            frame = Oversized(size, head)
        else:
            frame = Block(bytes(self._buffer[:end]))
        del self._buffer[: end + len(END)]
        self._in_block, self._scanned, self._dropped, self._head = False, 0, 0, b""
        return frame
