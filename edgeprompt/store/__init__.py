"""The SQLite store: `db` (the connection and its one writer), `sql` (what schema modules need: a leaf),
`migrate` (the one ordered list of migrations and `open_db`), `audit` (the hash-chained audit log), and one
store class per table family (sessions, traces, feedback, examples)."""
