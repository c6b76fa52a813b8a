"""The load generator, run as its own process so it does not eat the receiver's CPU.

`python -m bench.load ENDPOINT FILE CONNECTIONS` replays length-prefixed protobuf batches from FILE
(encoded once, beforehand, with the SDK's encoder) over keep-alive connections, and prints one JSON
line: requests, non-200 answers, and the seconds from the first request to the last answer.
"""

from __future__ import annotations

import http.client
import json
import struct
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse


def read_batches(path: Path) -> list[bytes]:
    data, batches, offset = path.read_bytes(), [], 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        batches.append(data[offset + 4:offset + 4 + size])
        offset += 4 + size
    return batches


def write_batches(path: Path, batches: list[bytes]) -> None:
    with path.open("wb") as handle:
        for batch in batches:
            handle.write(struct.pack(">I", len(batch)) + batch)


def replay(endpoint: str, batches: list[bytes], connections: int) -> dict[str, float]:
    target = urlparse(endpoint)
    failures = [0]
    lock = threading.Lock()

    def worker(mine: list[bytes]) -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        for body in mine:
            while True:
                connection.request("POST", target.path, body=body,
                                   headers={"Content-Type": "application/x-protobuf"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    break
                with lock:
                    failures[0] += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
        connection.close()

    threads = [threading.Thread(target=worker, args=(batches[i::connections],)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"requests": len(batches), "retried": failures[0], "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    endpoint, file, connections = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(replay(endpoint, read_batches(file), connections)))
