"""Local AWS for tests and the demo: moto server, a paging proxy in front of
it, cargo-lambda's Runtime API emulator and the function itself, all on
127.0.0.1 and stopped when done."""
