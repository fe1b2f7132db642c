"""The app and the record schema, each a Faust class with one lookup per record taken out."""

from __future__ import annotations

from typing import Any

import faust


class App(faust.App):
    """Faust's app, building each consumed record's event without a settings lookup."""

    _event_type: Any = None

    def create_event(self, key: Any, value: Any, headers: Any, message: Any) -> Any:
        event_type = self._event_type
        if event_type is None:
            event_type = self._event_type = self.conf.Event
        return event_type(self, key, value, headers, message)


class RawBytes(faust.Schema):
    """Keys and values as the bytes that came, what the `raw` codec returns, without the
    serializer registry's lookups per record (encoding is Faust's own)."""

    def __init__(self) -> None:
        super().__init__(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    def loads_key(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.key

    def loads_value(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.value


RAW = RawBytes()
