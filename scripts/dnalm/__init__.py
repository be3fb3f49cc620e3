"""dnalm: pretrain and use DNA language models, as Galaxy tools and from a shell."""

__version__ = "0.1.0"
