"""Publishes a greeting to IoT Core COUNT times, then exits (0 on success).

Configuration comes from the recipe through the environment (HELLO_TOPIC, HELLO_MESSAGE, HELLO_COUNT).
"""

import os
import sys

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import QOS


def main() -> int:
    topic = os.environ["HELLO_TOPIC"]
    message = os.environ["HELLO_MESSAGE"]
    count = int(os.environ.get("HELLO_COUNT", "1"))
    client = GreengrassCoreIPCClientV2()
    try:
        for i in range(1, count + 1):
            text = f"{message} ({i}/{count})"
            client.publish_to_iot_core(topic_name=topic, qos=QOS.AT_LEAST_ONCE, payload=text)
            print(f"published to {topic}: {text}", flush=True)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
