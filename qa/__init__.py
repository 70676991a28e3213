"""The answering engine and its command line: cited, verified answers over a news archive."""
