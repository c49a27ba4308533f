"""Measurement: datasets, training, the supernet, latency, and the generation that turns architectures into
rows."""
