"""The Slack bot: a peer of the HTTP API over the same engine (slack-bolt)."""
