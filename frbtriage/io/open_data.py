"""One door to data: a filterbank/PSRFITS file or a stream of CHIME msgpack chunks.

``prepare``, ``search`` and ``convert`` open data only through :func:`open_data`, so every
verb that takes a ``.fil`` also takes a folder of CHIME chunks (or one chunk file).
"""

from __future__ import annotations

import os

from frbtriage.io.chime_reader import CHUNK_SUFFIX, ChunkReader
from frbtriage.io.filterbank import FilterbankReader, Header

#: What :func:`open_data` returns; the reader type ``prepare`` and ``search`` work with.
DataReader = FilterbankReader | ChunkReader


def is_chunk_source(path: str | os.PathLike[str]) -> bool:
    """True for a folder, a ``.msgpack`` file, or an ``os.pathsep``-joined list of them."""
    s = os.fspath(path)
    if os.path.isdir(s) or s.lower().endswith(CHUNK_SUFFIX):
        return True
    return os.pathsep in s and not os.path.exists(s)


def read_data_header(path: str | os.PathLike[str]) -> Header:
    """The header of the data at ``path`` (a filterbank/PSRFITS file or CHIME chunks), as
    :func:`open_data` reads it; :class:`~frbtriage.errors.InputError` if unreadable."""
    with open_data(path) as reader:
        return reader.header


def open_data(path: str | os.PathLike[str]) -> DataReader:
    """The reader for ``path``: :class:`ChunkReader` for CHIME chunks (see
    :func:`is_chunk_source`), else :class:`FilterbankReader` (.fil, .fits, .sf). Both have
    ``path``, ``header``, ``read``, ``raw``, ``read_seconds`` and ``close`` and are context
    managers; raises :class:`~frbtriage.errors.InputError` for unreadable data."""
    if is_chunk_source(path):
        return ChunkReader(path)
    return FilterbankReader(path)
