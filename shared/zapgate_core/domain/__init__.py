"""Domain rules, free of I/O: lock ownership, outbound queue transitions, JID normalisation."""
