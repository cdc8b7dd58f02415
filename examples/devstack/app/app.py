"""The dev stack's web app: each visit is a row in PostgreSQL and a count in Redis."""

import http.server
import os

import psycopg2
import redis

DB = dict(host=os.environ.get("DATABASE_HOST", "db"), user="app", dbname="postgres")
CACHE = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"), port=6379)


def visit():
    with psycopg2.connect(**DB) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS visits (at timestamptz DEFAULT now())")
        cur.execute("INSERT INTO visits DEFAULT VALUES")
        cur.execute("SELECT count(*) FROM visits")
        stored = cur.fetchone()[0]
    return stored, CACHE.incr("visits")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            stored, counted = visit()
            body = f"visits stored in postgres: {stored}; counted by redis: {counted}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
