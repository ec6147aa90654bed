"""The intake: takes leads over HTTP, verifies and normalises them, publishes to the bus."""
