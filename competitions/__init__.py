"""AI competitions: phases, data, teams, submissions and leaderboards (see issue: competitions)."""
