"""`drumd eval`: scores against baselines, free-running groove statistics, following a player, reports
and plots."""
