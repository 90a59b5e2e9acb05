"""What an operator sees of a running instance: JSON logs and Prometheus metrics."""
