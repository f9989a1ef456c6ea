#!/usr/bin/env python3
"""Writes the data.pkl of a PyTorch-style state dict with N tensors, as torch.save pickles it
(protocol 2, OrderedDict, torch._utils._rebuild_tensor_v2, persistent ids naming storages), with
stand-in torch modules so that PyTorch is not needed.

Usage: make_state_dict_pickle.py OUT N STORAGES
Tensor i uses storage i % STORAGES (its key is that number), so the pickle is large (N entries)
while the storages are few.
"""
import collections
import pickle
import sys
import types

out, n, storages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")


def _rebuild_tensor_v2(*a):
    raise RuntimeError("never called")


_rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class FloatStorage:
    pass


FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
torch.FloatStorage, torch._utils = FloatStorage, utils
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


class Storage:
    def __init__(self, key):
        self.key = key


class Tensor:
    def __init__(self, storage, offset):
        self.storage, self.offset = storage, offset

    def __reduce__(self):
        return _rebuild_tensor_v2, (self.storage, self.offset, (16, 16), (16, 1), False, collections.OrderedDict())


class P(pickle.Pickler):
    def persistent_id(self, o):
        return ("storage", FloatStorage, o.key, "cpu", 1 << 20) if isinstance(o, Storage) else None


stores = [Storage(str(i)) for i in range(storages)]
state = collections.OrderedDict((f"model.layers.{i // 8}.block.{i % 8}.weight", Tensor(stores[i % storages], (i * 256) % (1 << 20)))
                                for i in range(n))
with open(out, "wb") as f:
    P(f, protocol=2).dump(state)
