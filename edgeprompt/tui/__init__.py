"""The Textual app (installed as edgeprompt.tui)."""
