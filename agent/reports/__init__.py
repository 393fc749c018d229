"""Reports: where the program stands, computed from the state.

`status` (per pair, in each person's local time), `digest` (the coordinator's weekly
email), `report` (JSON, CSV, or an HTML page drawn by `report_html` and `report_charts`).

May import: `agent.meetings`, `agent.mail_in`, `agent.config`, `agent.pairs`,
`agent.mail_out`, `agent.state`. Never commands or connectors.
"""
