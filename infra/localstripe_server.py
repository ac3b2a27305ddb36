"""Run localstripe (a fake Stripe API) on 127.0.0.1 with its state in a file we choose.

localstripe's own CLI binds every interface (``::``) and pickles its whole
store to the fixed path ``/tmp/localstripe.pickle`` on every write, so two
stacks on one machine would share (and clobber) each other's data.  This
wrapper reuses localstripe's aiohttp app unchanged, but binds 127.0.0.1 only
and points the store at ``--state``.

Usage: ``python -m infra.localstripe_server --port 18420 --state .stack/stripe.pickle``
"""

from __future__ import annotations

import argparse
import logging
import pickle
import socket
from pathlib import Path

from aiohttp import web
from localstripe import resources
from localstripe import server as localstripe_server

HOST = "127.0.0.1"


def use_state_file(path: Path) -> None:
    """Make localstripe's global store load from and save to ``path``.

    ``Store`` hard-codes /tmp in both methods; replacing them on the class
    covers the module-level ``store`` instance the app already holds.
    """

    def try_load_from_disk(self: resources.Store) -> None:
        try:
            with path.open("rb") as f:
                old = pickle.load(f)  # noqa: S301 - our own file, written by dump_to_disk below
        except (FileNotFoundError, EOFError):
            return
        self.clear()
        self.update(old)

    def dump_to_disk(self: resources.Store) -> None:
        # Write then rename, so a kill mid-write never leaves a truncated pickle.
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    resources.Store.try_load_from_disk = try_load_from_disk  # type: ignore[method-assign]
    resources.Store.dump_to_disk = dump_to_disk  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", type=Path, required=True, help="pickle file holding the fake Stripe data")
    parser.add_argument("--from-scratch", action="store_true", help="ignore the saved state")
    args = parser.parse_args(argv)

    state: Path = args.state.resolve()
    state.parent.mkdir(parents=True, exist_ok=True)
    use_state_file(state)
    if not args.from_scratch:
        resources.store.try_load_from_disk()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"localstripe listening on http://{HOST}:{args.port} (state: {state})", flush=True)
    # run_app turns SIGTERM/SIGINT into a clean shutdown.
    web.run_app(localstripe_server.app, sock=sock, access_log=logging.getLogger("aiohttp.access"), print=None)


if __name__ == "__main__":
    main()
