"""Bounded caches of part outputs (the Recognizer's teacher / audio / video caches) and their keys."""

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

CACHE_ENTRIES = 4096  # outputs per cache (teacher / audio / video), least recently used dropped first
CACHE_BYTES = 64 * 1024 * 1024  # of output tensors per cache; a 768-wide output is ~3 KB


@dataclass
class PartOutput:
    hidden: torch.Tensor  # (768,) fp32 on the CPU, its own storage (not a view of a batch)
    probs: torch.Tensor  # (L,) fp32 on the CPU

    @property
    def nbytes(self):
        return self.hidden.nbytes + self.probs.nbytes


class LRUCache:
    """Outputs by key; the least recently used (read or written) go first once the cache holds
    more than `max_entries` outputs or `max_bytes` of tensors."""

    def __init__(self, max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a cache needs room for at least one entry and one byte")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.nbytes = 0  # tensor bytes held now
        self.evictions = 0  # outputs dropped so far
        self._items = OrderedDict()

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def get(self, key):
        """The output for `key` (now the most recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value):
        if key in self._items:
            self.nbytes -= self._items.pop(key).nbytes
        self._items[key] = value
        self.nbytes += value.nbytes
        while len(self._items) > self.max_entries or self.nbytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.nbytes -= dropped.nbytes
            self.evictions += 1


def digest(array) -> tuple:
    array = np.ascontiguousarray(array)
    return (hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest(), array.shape, str(array.dtype))
