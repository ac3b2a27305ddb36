"""Compute credit: organisations buy it through Stripe, metered scoring is charged to it, subsidies pay part."""
