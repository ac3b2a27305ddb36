"""Scenario calls (场景征集) and the proposals startups send to them (see issue: scenarios)."""
