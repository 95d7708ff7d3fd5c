"""statsfirst: migrate the GHOSTLY+ legacy database into the Statistics-First schema."""

__version__ = "0.1.0"
