"""drumd.daemon: ports, clock, scheduler, session (uses the engine only through its step API)."""
