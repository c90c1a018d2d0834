#!/usr/bin/python3
"""A stand-in for an OpenAI-compatible model server, for bench/ttft.sh only: it is not
a model. POST /v1/chat/completions with "stream": true answers an event stream of
CHUNKS chunks GAP_MS apart, the first written at once together with the head;
GET /v1/models answers 200 (readiness, spec/runners.md RUN-5).
Usage: sse_stand_in.py PORTFILE [CHUNKS] [GAP_MS]; writes the port it listens on to
PORTFILE."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b'{"object":"list","data":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, k, last):
        event = {"id": "bench", "object": "chat.completion.chunk", "created": 0, "model": "bench/llm",
                 "choices": [{"index": 0, "delta": {"content": "tok%d " % k},
                              "finish_reason": "stop" if last else None}]}
        data = ("data: " + json.dumps(event) + "\n\n").encode()
        if last:
            data += b"data: [DONE]\n\n"
        return b"%x\r\n%s\r\n" % (len(data), data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n")
        chunks, gap = self.server.chunks, self.server.gap
        self.wfile.write(head + self.chunk(0, chunks == 1))  # head and first chunk in one write
        self.wfile.flush()
        for k in range(1, chunks):
            time.sleep(gap)
            self.wfile.write(self.chunk(k, k == chunks - 1))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    server.gap = (int(sys.argv[3]) if len(sys.argv) > 3 else 20) / 1000.0
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
