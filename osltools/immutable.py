"""Immutability for Results and data objects: attributes are set while building, never after."""

from __future__ import annotations


class ImmutableSlots:
    """For ``__slots__`` classes that set their slots with ``object.__setattr__`` while building.

    Refuses attribute assignment afterwards and pickles the slots directly
    (the default restore goes through ``__setattr__``), so objects cross to
    joblib and Dask workers.
    """

    __slots__ = ()
    _immutable_hint = ""

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable{self._immutable_hint}")

    def __getstate__(self) -> dict[str, object]:
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for slot, value in state.items():
            object.__setattr__(self, slot, value)


class Sealed:
    """For ordinary classes: assignment works in ``__init__`` until :meth:`_seal` is called, then is refused."""

    _immutable_hint = ""

    def _seal(self) -> None:
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, key, value):
        if self.__dict__.get("_sealed"):
            raise AttributeError(f"{type(self).__name__} is immutable{self._immutable_hint}")
        object.__setattr__(self, key, value)
