"""Cut a stream into lists of a fixed size (itertools.batched needs Python 3.12)."""


def chunked(iterable, size):
    """Yield lists of ``size`` items from ``iterable``; the last one may be shorter."""
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
