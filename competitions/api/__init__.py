"""The competitions open API: competitions, phases, teams, submissions and leaderboards."""
