"""Read a PyTorch ``state_dict`` file into NumPy arrays without importing PyTorch.

Pretrained weights are often published only as PyTorch files (``.pth``); the trainer needs their arrays, not
PyTorch (about 700 MB). Both of PyTorch's formats are read:

* the zip format (PyTorch >= 1.6): ``<name>/data.pkl`` plus one ``<name>/data/<key>`` file per storage;
* the legacy format: pickled magic number, protocol, system info, the object, the storage keys, then the raw
  storages, each preceded by its element count (int64).

Only what a ``state_dict`` of dense tensors needs is supported: tensors rebuilt by
``torch._utils._rebuild_tensor_v2`` from typed storages, in an ``OrderedDict``. Anything else raises ``ValueError``
naming what it met, so a file that is not a plain state dict fails loudly instead of loading garbage.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage placeholder until its bytes are read; tensors keep a reference and slice it later."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.data: npt.NDArray[Any] | None = None


class _LazyTensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> npt.NDArray[Any]:
        data = self.storage.data
        if data is None:
            raise ValueError("a tensor's storage was never read from the file")
        if not self.size:
            return np.array(data[self.offset])
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * item for s in self.stride))
        return np.array(view)  # a copy: independent of the file's buffer


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       *_ignored: Any) -> _LazyTensor:
    return _LazyTensor(storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise ValueError(f"not a plain state dict: the file refers to {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ValueError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"unsupported storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype)
        return self.storages[key]


def _resolve(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.array()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
    return obj


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy format's header and key list: plain values only, no class or function of any module."""

    def find_class(self, module: str, name: str) -> Any:
        raise ValueError(f"not a PyTorch file: its header refers to {module}.{name}")


def _read_legacy(f: IO[bytes]) -> Any:
    if _PlainUnpickler(f).load() != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (magic number mismatch)")
    if _PlainUnpickler(f).load() != _LEGACY_PROTOCOL:
        raise ValueError("unsupported PyTorch legacy protocol version")
    _PlainUnpickler(f).load()  # system info (endianness, type sizes)
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(f, storages).load()
    keys = _PlainUnpickler(f).load()  # list of storage keys, in file order
    for key in keys:
        storage = storages[str(key)]
        header = f.read(8)
        if len(header) != 8:
            raise ValueError(f"storage {key}: file is truncated")
        numel = int(np.frombuffer(header, "<i8")[0])
        raw = f.read(numel * storage.dtype.itemsize)
        if len(raw) != numel * storage.dtype.itemsize:
            raise ValueError(f"storage {key}: file is truncated")
        storage.data = np.frombuffer(raw, storage.dtype)
    return obj


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError(f"{path}: zip file without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with z.open(pkl) as f:
            obj = _Unpickler(f, storages).load()  # type: ignore[arg-type]
        for key, storage in storages.items():
            storage.data = np.frombuffer(z.read(f"{prefix}data/{key}"), storage.dtype)
    return obj


def load_state_dict(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """The arrays of a PyTorch ``state_dict`` file, by name, in file order."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        obj = _read_zip(path)
    else:
        with path.open("rb") as f:
            obj = _read_legacy(f)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return dict(_resolve(obj))
