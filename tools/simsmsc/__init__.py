"""A simulated SMSC on a loopback port, and the kit tests and benchmarks drive SMPP with."""
