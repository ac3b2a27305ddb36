"""The scorer: runs submissions in a sandbox and computes their scores outside it, against hidden labels."""
