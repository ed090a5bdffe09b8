"""The musical session: threads and what flows between them (session.py), the modes, live controls,
following the guitar, note voicing, recording takes and the status line."""
