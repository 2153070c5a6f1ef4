"""One module per file format; each turns decoded text or raw bytes into a Document."""
