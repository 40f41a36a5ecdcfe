"""A small Python beacon: the kind of app a TLS terminator (HAProxy, stunnel) forwards to. Serves
files from --root (GET/HEAD) and stores PUT uploads under it (temporary file, fsync, rename).

Its access rule is what a real app does wrong or right:
  --trust-header NAME  admit a request only if header NAME says SUCCESS (the terminator is meant to
                       set it; a terminator that passes the client's own header lets anyone in);
                       repeatable: any of them will do (an app made for several terminators)
  --soft-refusal       refuse with HTTP 200 and an error page instead of 403
  --iis                map paths to files as IIS does: letter case ignored, backslashes are
                       slashes, trailing dots of a name ignored

Binds 127.0.0.1 port 0 and prints {"port": N} on stdout when it listens."""
import argparse
import http.server
import json
import os
import pathlib
import posixpath
import sys
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--trust-header", action="append", default=[])
    ap.add_argument("--soft-refusal", action="store_true")
    ap.add_argument("--iis", action="store_true")
    args = ap.parse_args()
    root = pathlib.Path(args.root).resolve()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("%s %s\n" % (self.command, self.path))

        def answer(self, status, body, ctype="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def admitted(self):
            if args.trust_header and not any(self.headers.get(h) == "SUCCESS" for h in args.trust_header):
                if args.soft_refusal:
                    self.answer(200, b"<html><body>A client certificate is required.</body></html>\n",
                                "text/html")
                else:
                    self.answer(403, b"403 Forbidden: client certificate required\n")
                return False
            return True

        def file_for(self):
            path = urllib.parse.unquote(self.path.split("?", 1)[0].split(";", 1)[0])
            if args.iis:
                path = path.replace("\\", "/")
            path = posixpath.normpath("/" + path)  # dot segments and doubled slashes resolved
            parts = [p for p in path.split("/") if p]
            if ".." in parts:
                return None
            f = root
            for part in parts:
                if args.iis:
                    part = part.rstrip(".")
                if args.iis and f.is_dir():
                    match = [c for c in f.iterdir() if c.name.lower() == part.lower()]
                    f = match[0] if match else f / part
                else:
                    f = f / part
            return f

        def do_GET(self):
            if not self.admitted():
                return
            f = self.file_for()
            if f is None or not f.is_file():
                self.answer(404, b"not found\n")
                return
            self.answer(200, f.read_bytes(), "application/octet-stream")

        do_HEAD = do_GET

        def do_PUT(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if not self.admitted():
                return
            f = self.file_for()
            if f is None:
                self.answer(400, b"bad path\n")
                return
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f.name + ".part")
            with open(tmp, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, f)
            self.answer(201, b"stored\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
