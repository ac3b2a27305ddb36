"""Funds, calls, applications, reviews, decisions, disbursements and compute credit (see issue: funds)."""
