"""The annotation loop: a local Label Studio server, review queues and label import."""
