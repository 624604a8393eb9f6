"""Files: ``types`` (what a file is, sniffed from its bytes), ``limits`` (how much may be
uploaded, and the refusal), ``storage`` (where files live and who owns them)."""
