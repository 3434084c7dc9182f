"""The local cloud: emulators of Google Cloud services started as managed child processes."""
