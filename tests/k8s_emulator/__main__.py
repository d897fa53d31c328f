"""``python -m tests.k8s_emulator``: run the emulator until interrupted, then clean up."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from .controllers import Config
from .harness import Emulator


def main() -> int:
    parser = argparse.ArgumentParser(description="Kubernetes API emulator for pytest-fioloadgen")
    parser.add_argument("--kubeconfig", default="emulator.kubeconfig", help="where to write it")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--ready-delay", type=float, default=1.0, help="emulated pod start, s")
    args = parser.parse_args()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator = Emulator(
        port=args.port, nodes=args.nodes, config=Config(ready_delay_s=args.ready_delay)
    )
    emulator.start()
    try:
        path = emulator.kubeconfig(Path(args.kubeconfig))
        mode = (
            f"network namespaces fk{emulator.runtime.tag}-*"
            if emulator.runtime.use_netns
            else "loopback (not root)"
        )
        print(f"emulator listening on {emulator.url} (pods: {mode})", flush=True)
        print(f"export KUBECONFIG={path.resolve()}", flush=True)
        stop.wait()
    finally:
        print("stopping: removing pods, network namespaces and the bridge", flush=True)
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
