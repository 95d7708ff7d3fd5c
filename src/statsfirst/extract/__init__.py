"""Extract: batched, column-pruned reads of the legacy tables via COPY (never ``emg_signals``)."""
