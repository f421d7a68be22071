"""Typed checkpoint errors: each names the file, the tensor and what was expected."""

from telme.errors import UserError


class CheckpointError(UserError):
    """A checkpoint could not be read or does not fit the model it is loaded into."""


class MissingCheckpoint(CheckpointError):
    """A required file (or Hub snapshot) is not there."""

    def __init__(self, what: str, looked_for, found=()):
        self.what = what
        self.looked_for = [str(path) for path in looked_for]
        self.found = sorted(str(name) for name in found)
        listing = ", ".join(self.found) if self.found else "nothing"
        super().__init__(f"{what}: missing {', '.join(self.looked_for)} (found: {listing})")


class KeyMismatch(CheckpointError):
    """The file's tensor names are not the model's: some are missing, some unexpected."""

    def __init__(self, source: str, missing, unexpected, shown: int = 5):
        self.source = source
        self.missing = sorted(missing)
        self.unexpected = sorted(unexpected)
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing tensors ({_first(self.missing, shown)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected tensors ({_first(self.unexpected, shown)})")
        super().__init__(f"{source}: {'; '.join(parts)}; is this the right file for this part and config?")


class ShapeMismatch(CheckpointError):
    """One tensor in the file has another shape than the model built from the config."""

    def __init__(self, source: str, name: str, expected, found):
        self.source = source
        self.name = name
        self.expected = tuple(expected)
        self.found = tuple(found)
        super().__init__(
            f"{source}: tensor {name!r} has shape {self.found} in the file but the model expects "
            f"{self.expected}; the backbone config does not match these weights"
        )


class LabelCountMismatch(CheckpointError):
    """A classifier head has another number of labels than the label set asked for."""

    def __init__(self, source: str, tensor: str, expected: int, found: int, labels=()):
        self.source = source
        self.tensor = tensor
        self.expected = expected
        self.found = found
        names = f" ({', '.join(labels)})" if labels else ""
        super().__init__(
            f"{source}: {tensor!r} predicts {found} labels but the label set has {expected}{names}; "
            "pick the dataset these weights were trained on"
        )


class UnsafeCheckpoint(CheckpointError):
    """A pickle that carries code (or other non-tensor objects): refused by weights_only loading."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"{path}: refused to load: the pickle holds more than tensors (it may run code); "
            f"only torch.load(weights_only=True) files are accepted. Details: {reason}"
        )


def _first(names, shown: int) -> str:
    head = ", ".join(repr(name) for name in names[:shown])
    return head + (", ..." if len(names) > shown else "")
