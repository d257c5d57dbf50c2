"""Pure data: names, durations, schema, normalised points and the upsert rules. No I/O."""
