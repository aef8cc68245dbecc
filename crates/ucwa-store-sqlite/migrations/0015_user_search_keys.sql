-- User search compares keys folded in Rust (`stored::search_key`), not SQLite's `lower`,
-- which folds ASCII only, so "émile" finds "Émile" and both stores order alike. NULL until
-- computed: the store fills in the keys of existing users when it opens.
ALTER TABLE users ADD COLUMN name_key TEXT;
ALTER TABLE users ADD COLUMN uri_key TEXT;
