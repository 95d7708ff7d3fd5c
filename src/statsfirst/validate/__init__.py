"""Validate: pandera (polars backend) schemas mirroring every target CHECK plus the mapping's consistency rules."""
