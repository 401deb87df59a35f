"""Recovery after an interrupted `pulumi up`: stale locks, pending operations, orphans.

See docs/recovery.md for the runbook. The pure parts (locks, state, match) take plain data so
they are unit-tested without an engine or a cloud; engine.py and cloud.py are the two edges."""
