"""The coordinator's config file: YAML in, typed and cross-checked models out.

`model` holds the pydantic models (`Config` and its parts); `loading` reads the file
(YAML through `bounded_yaml`, CSV participants and pairs) and turns every problem into one
`ConfigError` line that names the key, the participant or pair id and the YAML line;
`preflight` is what `validate` checks beyond the schema (pairs that cannot meet, zone
names); `booking` is the slot search a booking runs, shared by the planner and
`preflight`, so both agree; `confine` keeps template files inside their folder;
`addresses` says when two addresses reach one mailbox (sub-addresses, Gmail's dots) and
`names` what to call a person in an email.

May import: `agent.meetings`; `loading` also the connector registry
(`connectors.registry`, which imports no back end) to check each connector's options.
"""
