"""Write embeddings as they come, then in the format asked for: TSV, AnnData or NumPy.

Blocks of rows are appended to a raw float32 spill file, so memory stays flat
however many sequences there are; at the end the spill file is turned into
the output format in chunks; the optional PCA plot (``dnalm.io.pca_plot``)
reads it the same way.
"""

import tempfile
from pathlib import Path

import numpy as np

from dnalm.errors import DnalmError

EMBEDDING_FORMATS = ("tsv", "h5ad", "npy")
CHUNK_ROWS = 65536


class EmbeddingSpill:
    """Rows of float32 appended to a temporary file, plus their ids."""

    def __init__(self):
        self._folder = tempfile.TemporaryDirectory(prefix="dnalm-embed-")
        self.path = Path(self._folder.name) / "embeddings.f32"
        self._stream = open(self.path, "wb")
        self.ids = []
        self.dim = None

    def append(self, ids, matrix):
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.dim = matrix.shape[1]
        self._stream.write(matrix.tobytes())
        self.ids.extend(ids)

    def matrix(self):
        """The rows written so far, as a read-only memory map."""
        self._stream.flush()
        if not self.ids:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(len(self.ids), self.dim))

    def close(self):
        self._stream.close()
        self._folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_embeddings(spill, path, output_format, obs_columns=None):
    if output_format == "tsv":
        write_tsv(spill, path)
    elif output_format == "npy":
        write_npy(spill, path)
    elif output_format == "h5ad":
        write_h5ad(spill, path, obs_columns)
    else:
        raise DnalmError(f"unknown output format '{output_format}' (use one of {', '.join(EMBEDDING_FORMATS)})")


def dimension_names(dim):
    return [f"dim_{i}" for i in range(dim)]


def write_tsv(spill, path):
    """Header ``id dim_0 ... dim_{n-1}``, one row per sequence."""
    matrix = spill.matrix()
    with open(path, "w") as stream:
        stream.write("\t".join(["id", *dimension_names(spill.dim)]) + "\n")
        for start in range(0, len(spill.ids), CHUNK_ROWS):
            rows = matrix[start:start + CHUNK_ROWS]
            for record_id, row in zip(spill.ids[start:start + CHUNK_ROWS], rows):
                # 9 significant digits give back the exact float32 when read.
                stream.write(record_id + "\t" + "\t".join(f"{value:.9g}" for value in row.tolist()) + "\n")


def write_npy(spill, path):
    matrix = spill.matrix()
    output = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=matrix.shape)
    for start in range(0, matrix.shape[0], CHUNK_ROWS):
        output[start:start + CHUNK_ROWS] = matrix[start:start + CHUNK_ROWS]
    output.flush()
    del output


def write_h5ad(spill, path, obs_columns=None):
    """AnnData: ``obs`` = ids (+ extra input columns), ``var`` = dimensions, ``X`` = embeddings."""
    import anndata
    import h5py
    import pandas as pd
    from anndata.io import write_elem

    obs = pd.DataFrame({"id": spill.ids})
    if obs_columns is not None:
        for name in obs_columns.columns:
            if name != "id":
                obs[name] = obs_columns[name].to_numpy()
    obs.index = anndata.utils.make_index_unique(pd.Index(spill.ids, dtype=str))
    var = pd.DataFrame(index=pd.Index(dimension_names(spill.dim)))
    matrix = spill.matrix()
    # HDF5 writes through a Python file object: a full disk is then an ordinary OSError
    # (HDF5's own file driver leaves half-flushed objects that crash the process at exit).
    with open(path, "w+b") as raw, h5py.File(raw, "w") as store:
        write_elem(store, "/", anndata.AnnData(obs=obs, var=var))
        # X is added in chunks, with the attributes anndata writes for a dense array.
        dataset = store.create_dataset("X", shape=matrix.shape, dtype="float32")
        dataset.attrs["encoding-type"] = "array"
        dataset.attrs["encoding-version"] = "0.2.0"
        for start in range(0, matrix.shape[0], CHUNK_ROWS):
            dataset[start:start + CHUNK_ROWS] = matrix[start:start + CHUNK_ROWS]
