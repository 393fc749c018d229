"""Pairs: a mentoring pair's state, the pure state machine, the planner and the rules. Pure.

`program` is the state machine (PairState + event -> PairState); `ingest` turns a parsed
message into events for the right pair (`calendar_answers` reads its iTIP parts;
`hearing_back` says who is told of it: the writer, the partner, the coordinator;
`instructions` reads the coordinator's own short answers, "agreed", "release", ...);
`planner` turns state + cadence + now into the actions due (`civil` keeps them to the
recipient's send window and spacing); `risk`, `limits`,
`reconcile`, `trust` and `reschedule` are the rules it applies; `forecast` runs the
planner forward for `plan`; `matching` proposes pairs for the people without one;
`members` is what a pair keeps of its people; `memo` caches pure results per state object.

May import: `agent.meetings`, `agent.mail_in`, `agent.config`. Never mail_out, state,
reports, commands or connectors: no I/O, no clock (`now` is a parameter).
"""
