"""mentormail: runs virtual mentoring programs over plain email and calendars.

The sub-packages follow one tick's data flow; each one's docstring says what it owns and
which others it may import (tests/test_layers.py checks it):

- `mail_in`: raw bytes -> a parsed message -> its new text -> what the person means.
- `pairs`: a pair's state, the pure state machine, the planner and the rules.
- `meetings`: slot finding, iCalendar/iTIP, dates and times in words.
- `mail_out`: templates rendered into the emails the agent sends.
- `state`: the store interface and its back ends; files the commands write.
- `reports`: status, digest and report, computed from state.
- `config`: the coordinator's config file, read and checked.
- `commands`: the CLI verbs and the tick, executor and service they run.

Mailbox and calendar back ends live beside this package, in `connectors`.
"""
