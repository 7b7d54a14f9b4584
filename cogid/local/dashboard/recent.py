"""The last requests `cogid serve` answered, shared by its worker processes for the dashboard.

Each worker answers its own connections, so no one worker's memory holds the picture: the
records live in an anonymous shared memory map made before the workers fork, which every
worker writes into and reads from. A record is the request log line's fields (time, client,
operation, status, milliseconds): never a parameter, so never a token or a key.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing
import struct
from typing import Any

SLOTS = 500  # records kept; the oldest is overwritten first
SLOT_SIZE = 256  # bytes a record may take, its length included
_COUNTER = struct.Struct("<Q")  # records ever written, at the start of the map
_LENGTH = struct.Struct("<H")  # a slot's record length, at the start of the slot
MAX_OPERATION = 160  # characters of an operation (or an unmatched path) kept


class RecentRequests:
    """A ring of the last SLOTS request records, each numbered (`seq`) in the order written."""

    def __init__(self, slots: int = SLOTS):
        self.slots = slots
        self._map = mmap.mmap(-1, _COUNTER.size + slots * SLOT_SIZE)  # MAP_SHARED: forked workers share it
        self._lock = multiprocessing.get_context("fork").Lock()

    def add(self, record: dict[str, Any]) -> None:
        operation = str(record.get("operation", ""))[:MAX_OPERATION]
        room = SLOT_SIZE - _LENGTH.size
        while True:  # the operation (an unmatched path) is cut until the record fits its slot
            data = json.dumps({**record, "operation": operation}, separators=(",", ":")).encode()
            if len(data) <= room or not operation:
                break
            # In proportion: JSON's escapes make a character 1 to 12 bytes.
            operation = operation[: max(0, len(operation) * room // len(data) - 1)]
        data = data[:room]  # what still overflows is dropped by `since`, not mixed into another slot
        with self._lock:
            (written,) = _COUNTER.unpack_from(self._map, 0)
            at = _COUNTER.size + (written % self.slots) * SLOT_SIZE
            _LENGTH.pack_into(self._map, at, len(data))
            self._map[at + _LENGTH.size : at + _LENGTH.size + len(data)] = data
            _COUNTER.pack_into(self._map, 0, written + 1)

    def last(self) -> int:
        """The number of the newest record (0: none yet)."""
        with self._lock:
            return int(_COUNTER.unpack_from(self._map, 0)[0])

    def since(self, after: int = 0, limit: int = SLOTS) -> list[dict[str, Any]]:
        """The records numbered above `after` still held, newest first, at most `limit`."""
        with self._lock:
            (written,) = _COUNTER.unpack_from(self._map, 0)
            snapshot = bytes(self._map)
        first = max(after, written - self.slots, written - limit)
        records = []
        for seq in range(written, first, -1):
            at = _COUNTER.size + ((seq - 1) % self.slots) * SLOT_SIZE
            (length,) = _LENGTH.unpack_from(snapshot, at)
            try:
                record = json.loads(snapshot[at + _LENGTH.size : at + _LENGTH.size + length])
            except ValueError:  # cut short to fit its slot: the line is lost, not the page
                continue
            records.append({"seq": seq, **record})
        return records
