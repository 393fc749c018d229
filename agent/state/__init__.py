"""State: the agent's memory, and the files the commands write.

`store` defines the interface every back end passes (tests/test_store_contract.py);
`store_json` (TinyDB, the default), `store_sqlite` and `store_pg` (PostgreSQL, psycopg 3)
are the back ends, and `opening` picks one for a path or a configured database.
`attempts` is the inbox's ledger of messages that failed to process; `private_files`
writes files with personal data (reports, exports) whole, mode 0600.

May import: `agent.pairs`, `agent.config`, `agent.meetings`, `agent.mail_in`.
`store` does not import its back ends; they import it.
"""
