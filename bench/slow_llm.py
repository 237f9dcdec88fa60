"""A deliberately slow OpenAI-compatible endpoint for the translation bench:
``slow_llm.py --port 8799 --delay 2``.

Every ``POST /v1/chat/completions`` is answered after ``--delay`` seconds
(one thread per request, so calls overlap as they would at a real
provider) with a translation-shaped answer: ``{"language": <asked>,
"translation": "[<asked>] <text>"}``. Run the workers with ``TRANSLATION=on
LLM_BASE_URL=http://127.0.0.1:8799/v1 LLM_MODEL=slow`` and the conversations
in another language than the agent's (``BENCH_CUSTOMER_LANGUAGE=de``), so
every agent message is translated (README "Performance").
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()
    calls = {"count": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(args.delay)
            found = re.search(r'"language": "([^"]+)"', body["messages"][0]["content"])
            target = found.group(1) if found else "en"
            text = f"[{target}] {body['messages'][-1]['content']}"
            content = json.dumps({"language": target, "translation": text})
            data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
            with lock:
                calls["count"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"slow LLM on http://127.0.0.1:{args.port}/v1, {args.delay} s per call", flush=True)
    try:
        server.serve_forever()
    finally:
        print(f"answered {calls['count']} calls", flush=True)


if __name__ == "__main__":
    main()
