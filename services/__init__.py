"""Long-running event-driven processes, one package each; run one with `manage.py run_service NAME`."""
