"""Monitoring for data teams: sync run status, supervision metrics, consistency reports and the dashboard (issue 7)."""
