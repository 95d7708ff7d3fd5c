"""The migration run: plan batches, then extract → normalize → validate → load each, resumably."""
