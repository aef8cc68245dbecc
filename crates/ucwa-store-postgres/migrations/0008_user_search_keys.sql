-- User search compares keys folded in Rust (`stored::search_key`), not PostgreSQL's
-- `lower` and the database's collation, so both stores find and order the same users
-- whatever the database's locale. NULL until computed: a node fills in the keys of existing
-- users when it opens.
ALTER TABLE users ADD COLUMN name_key TEXT;
ALTER TABLE users ADD COLUMN uri_key TEXT;
