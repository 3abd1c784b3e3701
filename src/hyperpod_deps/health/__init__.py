"""The health monitoring agent: rule files, log parsers, pure monitors and their thin shells."""
