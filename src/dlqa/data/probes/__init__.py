"""Per-sample probes: file integrity and format, image properties, perceptual hashes."""
