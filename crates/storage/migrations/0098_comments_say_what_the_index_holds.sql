-- How much of a comment's body the full-text index holds, in characters: for a customer's
-- message, what comes before the quoted history of a reply (`ladder_core::quoting`); NULL
-- for all of it. The history repeats the ticket's earlier messages, each indexed as itself,
-- and a thread whose every reply quotes the ones before grew its ticket's indexed text as
-- the square of its length: on SQLite a comment rewrites its ticket's whole document, on the
-- write lane every other write waits for. Comments written before this keep all of their
-- body in the index.
ALTER TABLE comments ADD COLUMN indexed_chars INTEGER;
