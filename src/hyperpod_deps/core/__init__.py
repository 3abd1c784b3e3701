"""Pure types and facts: wire-contract constants, instance types. No I/O beyond reading shipped data."""
