"""Telling users that their job ended: by email (Mailjet) or in the log."""
