"""The decision logic: pure functions over frozen models. No I/O, no clock, no globals."""
