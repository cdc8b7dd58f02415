# testcontainers-python against berth's Docker API: a container from a local image, a log line
# waited for, a mapped port read and asked, the container stopped and removed.
import sys
import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

image = sys.argv[1]
script = "mkdir -p /www; echo tc-page > /www/index.html; echo ready; exec httpd -f -p 80 -h /www"
container = DockerContainer(image).with_command(["sh", "-c", script]).with_exposed_ports(80)
with container.waiting_for(LogMessageWaitStrategy("ready")) as c:
    port = c.get_exposed_port(80)
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode().strip()
    print(f"page {page}")
    print(f"id {c.get_wrapped_container().id}")
print("stopped")
