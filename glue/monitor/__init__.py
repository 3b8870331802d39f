"""The monitor: a periodic list-based reconcile that cleans up finished, failed, idle, stuck and
orphaned jobs (design §7). See README.md beside this file for the policies and their defaults."""
