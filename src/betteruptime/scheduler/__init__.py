"""The pusher: turns due websites into jobs on the check stream."""
