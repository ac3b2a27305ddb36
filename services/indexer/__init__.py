"""The search indexer: follows the events of what the public can read into the search read model and index."""

import threading

from services.indexer.indexer import Indexer


def run(stop: threading.Event) -> None:
    Indexer().run(stop)
