"""Message storage of the simulated modem: numbered slots with a capacity, like a SIM."""

from __future__ import annotations

import threading
from dataclasses import dataclass

# 27.005 <stat> values in PDU mode and their text mode names.
REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT, ALL = 0, 1, 2, 3, 4
STAT_NAMES = {
    REC_UNREAD: "REC UNREAD",
    REC_READ: "REC READ",
    STO_UNSENT: "STO UNSENT",
    STO_SENT: "STO SENT",
    ALL: "ALL",
}


class StorageFull(Exception):
    """No free slot: the modem answers +CMS ERROR 322 and announces nothing."""


class BadIndex(Exception):
    """An index outside the storage: +CMS ERROR 321."""


@dataclass
class Slot:
    stat: int
    pdu: str  # hex, SMSC address included


class Storage:
    """One memory (`SM`, `ME`): slots 1..capacity, thread-safe for the control API."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self._slots: dict[int, Slot] = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return len(self._slots)

    def put(self, pdu: str, stat: int = REC_UNREAD) -> int:
        with self._lock:
            free = next((i for i in range(1, self.capacity + 1) if i not in self._slots), None)
            if free is None:
                raise StorageFull(self.name)
            self._slots[free] = Slot(stat, pdu)
            return free

    def read(self, index: int) -> Slot | None:
        """The slot's message (None when empty); reading marks an unread message read."""
        with self._lock:
            self._check(index)
            slot = self._slots.get(index)
            if slot is None:
                return None
            snapshot = Slot(slot.stat, slot.pdu)
            if slot.stat == REC_UNREAD:
                slot.stat = REC_READ
            return snapshot

    def listing(self, stat: int) -> list[tuple[int, Slot]]:
        """Messages with `stat` (ALL for every one) in index order, marked read afterwards."""
        with self._lock:
            found = [
                (i, Slot(s.stat, s.pdu))
                for i, s in sorted(self._slots.items())
                if stat in (ALL, s.stat)
            ]
            for i, _ in found:
                if self._slots[i].stat == REC_UNREAD:
                    self._slots[i].stat = REC_READ
            return found

    def delete(self, index: int, flag: int = 0) -> None:
        """AT+CMGD semantics: flag 0 deletes `index`, 1-4 delete by status (4: everything)."""
        with self._lock:
            if flag == 0:
                self._check(index)
                self._slots.pop(index, None)
                return
            doomed = {1: {REC_READ}, 2: {REC_READ, STO_SENT}, 3: {REC_READ, STO_SENT, STO_UNSENT}}
            stats = doomed.get(flag)  # None: flag 4, everything
            for i in list(self._slots):
                if stats is None or self._slots[i].stat in stats:
                    del self._slots[i]

    def snapshot(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {"index": i, "stat": s.stat, "pdu": s.pdu} for i, s in sorted(self._slots.items())
            ]

    def _check(self, index: int) -> None:
        if not 1 <= index <= self.capacity:
            raise BadIndex(index)
