"""Commands: the CLI verbs, and the tick, executor and service they run. All the I/O.

`cli` parses arguments and prints; `runtime` opens what a tick needs (store, connectors,
templates, key); `tick` is one pass (ingest, plan, act, remember) and `executor` performs
the planned actions through the connectors exactly once; `service` is the long-running
loop; `coordinator` reads the coordinator's answers to the agent's emails and runs the
`pair` and `inbox` verbs. The other modules are one verb each (`check`, `demo`, `init`,
`inspection`, `match`, `preview`, `privacy`), plus `logs` for log output and `invocation` for the
command line that hints print.

May import: everything in `agent` and `connectors`. Nothing imports commands.
"""
