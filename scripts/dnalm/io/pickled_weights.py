"""Pickle-only weights converted once to safetensors, without running any pickled code.

Many published DNA models ship only PyTorch pickles: one ``pytorch_model.bin``, or
shards (``pytorch_model-00001-of-00002.bin`` ...) listed by ``pytorch_model.bin.index.json``,
whose ``weight_map`` names the shard of every tensor. Each file is read with torch's
``weights_only`` loader, which accepts tensors and plain containers and refuses any other
pickled object (a call to ``os.system``, say) before running it. All the tensors go into
one ``model.safetensors``.
"""

import json
import pickle

from dnalm.errors import DnalmError

PICKLED_WEIGHTS = "pytorch_model.bin"
PICKLED_INDEX = "pytorch_model.bin.index.json"


def pickled_weight_files(model_dir, source):
    """The pickled weight files of ``model_dir``, in order, or ``[]`` where it has none.

    A sharded model's files are the shards its index names: plain file names in the folder
    (a path such as ``../x.bin`` is refused), each present.
    """
    if (model_dir / PICKLED_WEIGHTS).is_file():
        return [model_dir / PICKLED_WEIGHTS]
    if not (model_dir / PICKLED_INDEX).is_file():
        return []
    weight_map = read_weight_map(model_dir / PICKLED_INDEX, source)
    shards = sorted(set(weight_map.values()))
    odd = [name for name in shards if "/" in name or "\\" in name or name.startswith(".")]
    if odd:
        raise DnalmError(f"model {source}: {PICKLED_INDEX} names weight files outside the model "
                         f"folder ({', '.join(odd[:3])}): refused")
    missing = [name for name in shards if not (model_dir / name).is_file()]
    if missing:
        raise DnalmError(f"model {source} lacks the weight files {', '.join(missing)} "
                         f"that {PICKLED_INDEX} names")
    return [model_dir / name for name in shards]


def read_weight_map(index_path, source):
    """``{tensor name: shard file name}`` of a sharded checkpoint's index."""
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise DnalmError(f"model {source}: {index_path.name} is unreadable: {error}") from None
    if not isinstance(weight_map, dict) or not weight_map or \
            not all(isinstance(name, str) for name in weight_map.values()):
        raise DnalmError(f"model {source}: {index_path.name} has no weight_map of tensor -> file")
    return weight_map


def convert_pickled_weights(model_dir, safetensors_path, source):
    """The tensors of the pickled weights of ``model_dir`` -> one safetensors file.

    Returns the pickled files that were read (the single file, or every shard).
    """
    from safetensors.torch import save_file

    files = pickled_weight_files(model_dir, source)
    if not files:
        raise DnalmError(f"model {source} has no {PICKLED_WEIGHTS} or {PICKLED_INDEX}")
    state = {}
    for path in files:
        shard = load_tensors(path, source)
        repeated = sorted(state.keys() & shard.keys())
        if repeated:
            raise DnalmError(f"model {source}: the tensor {repeated[0]} is in more than one weight file")
        state.update(shard)
    if is_sharded(files):
        expected = read_weight_map(model_dir / PICKLED_INDEX, source)
        stray = sorted(expected.keys() ^ state.keys())
        if stray:
            raise DnalmError(f"model {source}: the shards and {PICKLED_INDEX} disagree on {len(stray)} "
                             f"tensors, e.g. {', '.join(stray[:3])}")
    # safetensors stores no shared storage: tied weights become separate copies
    save_file({name: tensor.detach().clone().contiguous() for name, tensor in state.items()},
              str(safetensors_path), metadata={"format": "pt"})
    return files


def is_sharded(files):
    return [path.name for path in files] != [PICKLED_WEIGHTS]


def converted_from(files):
    """What a model's record says its weights were converted from: the single file or the
    shards' index; "" where nothing was converted."""
    if not files:
        return ""
    return PICKLED_INDEX if is_sharded(files) else PICKLED_WEIGHTS


def load_tensors(path, source):
    """``{name: tensor}`` of one pickled file, read by torch's ``weights_only`` loader."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DnalmError(f"model {source}: {path.name} holds more than tensors (pickled objects, "
                         "which could run code): refused, nothing in it was run") from None
    except (RuntimeError, EOFError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DnalmError(f"model {source}: {path.name} is not a readable PyTorch file: {first_line}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DnalmError(f"model {source}: {path.name} is not a dictionary of tensors: refused")
    return state
