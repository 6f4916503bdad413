"""Trainable twins of command pickers: a train command makes a ``command`` picker a TrainablePicker.

The runner trains what is an instance of
:class:`~topcup_bench.pickers.protocol.TrainablePicker`; ``command`` (and a
preset) becomes one only when it is given a train command, so each class gets a
generated twin that adds the base class.
"""

from __future__ import annotations

import inspect

from topcup_bench.pickers.protocol import TrainablePicker

__all__ = ["register_variant", "trainable_variant", "rebuild", "wants_training"]

_VARIANTS: dict[type, type] = {}


def register_variant(plain: type, trainable: type) -> None:
    """Record ``trainable`` as the twin of ``plain`` (a class written out rather than generated)."""
    _VARIANTS[plain] = trainable


def trainable_variant(picker_class: type) -> type:
    """The trainable twin of a ``CommandPicker`` subclass (made once, then reused).

    ``CommandPicker(train_command=...)`` and presets with a ``default_train_command``
    are created as their twin, so that the runner trains them; it pickles
    through the plain class (``CommandPicker.__reduce_ex__``).
    """
    if issubclass(picker_class, TrainablePicker):
        return picker_class
    if picker_class not in _VARIANTS:
        _VARIANTS[picker_class] = type(
            f"Trainable{picker_class.__name__}",
            (picker_class, TrainablePicker),
            {
                "__module__": picker_class.__module__,
                "__doc__": picker_class.__doc__,
                "_plain_class": picker_class,
            },
        )
    return _VARIANTS[picker_class]


def rebuild(plain: type, trainable: bool) -> object:
    """An empty instance of ``plain`` or of its twin (unpickling fills its state)."""
    return object.__new__(trainable_variant(plain) if trainable else plain)


def wants_training(cls: type, args: tuple, kwargs: dict) -> bool:
    """Whether ``cls(*args, **kwargs)`` gets a train command (given, or its class default)."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:  # __init__ reports the bad call
        return False
    given = bound.arguments.get("train_command", "")
    return bool(str(given or "").strip() or getattr(cls, "default_train_command", ""))
