"""Mail out: what the agent says, rendered from templates into emails.

`render` loads the jinja2 templates (the shipped defaults or the program's overrides) into
subject, text and HTML, in each recipient's language; `locale_fmt` words dates, times and
durations in that language on the recipient's clock (Babel); `context` is what a template
may say about the program, the pair and the people; `outbound` composes the headers that
thread and identify a message and attaches iMIP invitations; `headers` folds the address
and subject fields so that every reader decodes exactly the rendered text.

May import: `agent.meetings`, `agent.mail_in`, `agent.config`, `agent.pairs`.
"""
