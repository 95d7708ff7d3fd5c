-- statsfirst.channel_type_problems (005) type-checked every analytics_data channel inside PostgreSQL. The migration
-- now reads only the fields it needs, each as its JSON text, and polars type-checks them (transform/channels.py),
-- which is cheaper; the function is no longer used. 005 itself stays as applied (the ledger refuses edits).
DROP FUNCTION IF EXISTS statsfirst.channel_type_problems(jsonb, text[], text[], text[]);
