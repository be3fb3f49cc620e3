"""Statistics on tools' outputs: comparing groups of variant effects."""
